#!/usr/bin/env python3
"""Builds Kiln's tf2onnx fixtures: the Keras models of make_tf_models.py, converted to ONNX by tf2onnx.

Run it through `scripts/make_tf_models.sh --onnx`, which makes the pinned
virtualenv (.venv-models) first. Each model is rebuilt exactly as for the TFLite
fixtures (same seeds, same perturbed constants), exported as a SavedModel
(`model.export(path, format="tf_saved_model")`), converted with
`python -m tf2onnx.convert --saved-model PATH --opset 17`, its `Erfc` nodes
(transformer_block's exact GELU; tf2onnx 1.17.0 maps TensorFlow's Erfc to that
nonexistent ONNX operator) replaced with `Sub(1, Erf(x))` (replace_erfc), and run
by ONNX Runtime on the committed `Keras/NAME.inputs.npy`. An int8 QDQ version is made
with ONNX Runtime's `quant_pre_process` and `quantize_static` (int8 activations,
per-channel int8 weights), calibrated on the same representative samples as
the int8 TFLite models. The float model's outputs are compared with LiteRT's
(`Keras/NAME.outputs*.npy`), the QDQ version's with the float model's.
tf2onnx's output differs from run to run in names and doc_string only (see the
README): restore unchanged models' files with `git checkout` after a rerun, or
convert only some models with `--only NAME ...` (README.md is then not rewritten).

Writes into Tests/KilnTests/Fixtures/ONNX/tf2onnx/:
  NAME.onnx, NAME_qdq.onnx                 the converted model and its QDQ version
  NAME.inputs.K.npy                        a model with several inputs (fusion_net): its inputs in the ONNX graph's order
  NAME.outputs.npy, NAME_qdq.outputs.npy   ONNX Runtime's outputs (inputs: Keras/NAME.inputs.npy);
                                           NAME.outputs.K.npy, K in ONNX graph output order, when several
  README.md                                versions, what converted, checksums
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import make_tf_models as keras_fixtures  # noqa: E402  (sets the TensorFlow environment first)
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from ai_edge_litert.interpreter import Interpreter

REPO = keras_fixtures.REPO
OUT = REPO / "Tests/KilnTests/Fixtures/ONNX/tf2onnx"
INPUTS = REPO / "Tests/KilnTests/Fixtures/Keras"
OPSET = 17
# transformer_block's exact GELU needs replace_erfc (below) after tf2onnx.
NAMES = ["keras_cnn", "mobilenet_v3_small", "efficientnet_b0", "transformer_block", "lstm_kws", "gru_kws",
         "decoder_net", "reductions_net", "embedding_text", "fusion_net"]


class Samples(CalibrationDataReader):
    def __init__(self, names, samples):
        """`samples[k][i]`: sample k of the ONNX input named `names[i]`. Float samples as float32;
        embedding_text's int32 token ids as they are."""
        self.batches = iter([{name: value[None].astype(np.float32) if value.dtype.kind == "f" else value[None]
                              for name, value in zip(names, sample)} for sample in samples])

    def get_next(self):
        return next(self.batches, None)


def replace_erfc(model):
    """Replaces every `Erfc(x)` node by `Sub(1, Erf(x))`, in place; returns how many it replaced.

    Why: tf2onnx 1.17.0 maps TensorFlow's Erfc (Keras's exact GELU, `0.5 * x * erfc(-x / sqrt(2))`, in
    transformer_block) to an `Erfc` node, and there is no Erfc among ONNX's operators: ONNX Runtime refuses the
    model ("No Op registered for Erfc"). erfc(x) = 1 - erf(x), and Erf and Sub are standard. The Sub keeps the
    Erfc's output name, so the nodes that read it are untouched; the new nodes, the Erf's output and the
    float32 scalar initializer 1 get names that are not used anywhere in the model. (At float32, 1 - erf(x)
    loses erfc's relative accuracy for large x, where erfc(x) is tiny; GELU multiplies it by x/2 there and
    only needs it to an absolute error, which is what LiteRT's check below measures.)
    """
    used = set()

    def collect(graph):
        used.update(v.name for v in [*graph.input, *graph.output, *graph.value_info])
        used.update(i.name for i in [*graph.initializer, *graph.sparse_initializer])
        for node in graph.node:
            used.update([node.name, *node.input, *node.output])
            for attribute in node.attribute:
                for subgraph in [attribute.g, *attribute.graphs]:
                    collect(subgraph)

    def unique(base):
        name, k = base, 0
        while name in used:
            k += 1
            name = f"{base}__{k}"
        used.add(name)
        return name

    def rewrite(graph):
        count, one, nodes = 0, None, []
        for node in graph.node:
            for attribute in node.attribute:
                for subgraph in [attribute.g, *attribute.graphs]:
                    count += rewrite(subgraph)
            if node.op_type != "Erfc" or node.domain not in ("", "ai.onnx"):
                nodes.append(node)
                continue
            assert len(node.input) == 1 and len(node.output) == 1 and not node.attribute, node
            if one is None:  # one constant per graph, in the graph that uses it
                one = unique("erfc_one")
                graph.initializer.append(onnx.numpy_helper.from_array(np.array(1.0, dtype=np.float32), one))
            base = node.name or "erfc"
            erf = unique(f"{base}_erf")
            nodes.append(onnx.helper.make_node("Erf", [node.input[0]], [unique(f"{erf}_output")], name=erf))
            nodes.append(onnx.helper.make_node("Sub", [one, nodes[-1].output[0]], [node.output[0]],
                                               name=unique(f"{base}_one_minus_erf")))
            count += 1
        if count:
            del graph.node[:]
            graph.node.extend(nodes)
        return count

    collect(model.graph)
    return rewrite(model.graph)


def save_outputs(variant, outputs):
    """VARIANT.outputs.npy, or VARIANT.outputs.K.npy (K in ONNX graph output order) when there are several;
    float outputs as float32, integer ones (reductions_net's argmax) as they are."""
    files = [f"{variant}.outputs.npy"] if len(outputs) == 1 else [
        f"{variant}.outputs.{k}.npy" for k in range(len(outputs))]
    for file, value in zip(files, outputs):
        np.save(OUT / file, value.astype(np.float32) if value.dtype.kind == "f" else value)
    return files


def litert_outputs(name, keras_output_names):
    """LiteRT's committed float outputs (Keras/NAME.outputs*.npy), in the Keras model's output order: the
    .tflite's output tensors are named `StatefulPartitionedCall_1:N`, N the Keras output index."""
    if len(keras_output_names) == 1:
        return [np.load(INPUTS / f"{name}.outputs.npy")]
    details = Interpreter(model_path=str(INPUTS / f"{name}.tflite")).get_output_details()
    order = [int(re.search(r":(\d+)$", d["name"]).group(1)) for d in details]
    assert sorted(order) == list(range(len(keras_output_names))), (name, order)
    stored = [np.load(INPUTS / f"{name}.outputs.{k}.npy") for k in range(len(order))]
    return [stored[order.index(n)] for n in range(len(order))]


def onnx_keras_order(session, keras_output_names):
    """For each ONNX output, its Keras output index: tf2onnx names the SavedModel signature's outputs
    `output_N` (Keras's export), or keeps the Keras output name."""
    indices = []
    for output in session.get_outputs():
        if output.name in keras_output_names:
            indices.append(keras_output_names.index(output.name))
        else:
            indices.append(int(re.fullmatch(r"output_(\d+)", output.name).group(1)))
    assert sorted(indices) == list(range(len(keras_output_names))), indices
    return indices


def difference(outputs, expected):
    """The max |difference| over the float outputs; for integer outputs (argmax), how many elements differ."""
    floats = [float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
              for a, b in zip(outputs, expected) if a.dtype.kind == "f"]
    text = f"{max(floats):.3g}"
    for a, b in zip(outputs, expected):
        if a.dtype.kind != "f":
            text += f" ({a.dtype}: {int(np.count_nonzero(a != b))} of {a.size} differ)"
    return text


def shapes_text(outputs):
    """A single output's shape as `[1, 10]`; several as `[1, 10]; int32 [1, 8, 12]; …`, in graph output order."""
    if len(outputs) == 1:
        return str(list(outputs[0].shape))
    return "; ".join(("" if o.dtype == np.float32 else f"{o.dtype} ") + str(list(o.shape)) for o in outputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=NAMES, help="convert only these (no README rewrite)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows, checks, failures, multi_outputs, erfc_replaced, auto_merged = [], [], [], {}, {}, []
    for name in args.only or NAMES:
        builder, sampler, _ = keras_fixtures.MODELS[name]
        keras_fixtures.keras.utils.set_random_seed(keras_fixtures.SEED)
        model = builder()
        keras_fixtures.perturb_constant_variables(model, np.random.default_rng(keras_fixtures.SEED))
        shapes = [tuple(keras_input.shape[1:]) for keras_input in model.inputs]
        rep_rng, input_rng = np.random.default_rng(keras_fixtures.SEED + 1), np.random.default_rng(keras_fixtures.SEED + 2)
        samples = [[sampler(rep_rng, shape) for shape in shapes] for _ in range(keras_fixtures.REPRESENTATIVE_SAMPLES)]
        # The Keras fixtures' inputs, in the Keras model's order (as make_tf_models.py draws them).
        xs = [np.load(INPUTS / f"{name}.inputs.npy")] if len(shapes) == 1 else [
            sampler(input_rng, (1, *shape)) for shape in shapes]
        path = OUT / f"{name}.onnx"
        with tempfile.TemporaryDirectory() as work:
            saved = Path(work) / "saved"
            model.export(str(saved), format="tf_saved_model")
            converted = Path(work) / path.name
            result = subprocess.run(
                [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved), "--output", str(converted),
                 "--opset", str(OPSET)], capture_output=True, text=True)
            if result.returncode != 0:
                error = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
                failures.append((name, f"tf2onnx failed: {error}"))
                print(f"{name}: tf2onnx failed:\n{result.stderr[-4000:]}", flush=True)
                keras_fixtures.keras.backend.clear_session()
                continue
            graph = onnx.load(converted)
            replaced = replace_erfc(graph)
            if replaced:  # only then rewritten, so the other models keep tf2onnx's own bytes
                onnx.checker.check_model(graph, full_check=True)
                onnx.save(graph, converted)
                erfc_replaced[name] = replaced
                print(f"{name}: replaced {replaced} Erfc node(s) with Sub(1, Erf(x))", flush=True)
            try:  # ONNX Runtime must run it before it is kept
                session = ort.InferenceSession(str(converted), providers=["CPUExecutionProvider"])
                # The ONNX graph's inputs in its own order, each found among the Keras inputs by name.
                feeds = [i.name for i in session.get_inputs()]
                positions = [keras_fixtures.keras_input_position(model, feed) for feed in feeds]
                inputs = [xs[k] for k in positions]
                outputs = session.run(None, dict(zip(feeds, inputs)))
            except Exception as error:
                failures.append((name, f"ONNX Runtime refused it: {type(error).__name__}: {error}"))
                print(f"{name}: ONNX Runtime refused it: {error}", flush=True)
                keras_fixtures.keras.backend.clear_session()
                continue
            path.write_bytes(converted.read_bytes())
        keras_names = list(model.output_names)
        order = onnx_keras_order(session, keras_names)
        expected = litert_outputs(name, keras_names)
        checked = difference(outputs, [expected[n] for n in order])
        output_files = save_outputs(name, outputs)
        if len(inputs) > 1:  # in the ONNX graph's input order, which the Keras fixtures' files need not share
            for k, value in enumerate(inputs):
                np.save(OUT / f"{name}.inputs.{k}.npy", value)
        if len(outputs) > 1:
            multi_outputs[name] = [f"{o.name} ({keras_names[n]})" for o, n in zip(session.get_outputs(), order)]
        prepared = OUT / f"{name}_prepared.onnx"
        qdq = OUT / f"{name}_qdq.onnx"
        try:
            # In a scratch folder: symbolic shape inference that gives up leaves sym_shape_infer_temp.onnx and its
            # external data in the current folder.
            with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
                try:
                    quant_pre_process(str(path), str(prepared))
                except Exception as error:
                    if "Incomplete symbolic shape inference" not in str(error):
                        raise
                    # transformer_block (and fusion_net's gate): its attention's Reshapes (shapes computed from Shape/Gather/Concat) give
                    # the batch dimension new symbolic names, which symbolic shape inference then will not broadcast
                    # together ("unsupported broadcast between Reshape_36_o0__d0 Reshape_33_o0__d0", numbers vary).
                    # auto_merge merges such names; only where the default fails, so the other models are as before.
                    quant_pre_process(str(path), str(prepared), auto_merge=True)
                    auto_merged.append(name)
                    print(f"{name}: quant_pre_process needed auto_merge=True ({error})", flush=True)
            quantize_static(
                str(prepared), str(qdq), Samples(feeds, [[sample[k] for k in positions] for sample in samples]),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
            quantized = ort.InferenceSession(str(qdq), providers=["CPUExecutionProvider"]).run(None, dict(zip(feeds, inputs)))
        except Exception as error:  # keep the float model
            qdq_text = f"not made: {type(error).__name__}: {error}"
            failures.append((f"{name}_qdq", qdq_text))
            qdq.unlink(missing_ok=True)
        else:
            save_outputs(f"{name}_qdq", quantized)
            qdq_text = difference(quantized, outputs)
        finally:
            prepared.unlink(missing_ok=True)
        ops = sorted({node.op_type for node in onnx.load(path).graph.node})
        rows.append((name, "; ".join(str(list(x.shape)) for x in inputs), shapes_text(outputs), ops))
        checks.append((name, checked, qdq_text))
        print(f"{name}: {path.stat().st_size} bytes, {ops}, outputs {output_files}; max |ONNX Runtime - LiteRT| "
              f"{checked}; QDQ: max |QDQ - float| {qdq_text}", flush=True)
        keras_fixtures.keras.backend.clear_session()
    if args.only:
        return
    versions = {p: importlib.metadata.version(p) for p in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")}
    lines = [
        "# tf2onnx fixtures (generated)",
        "",
        "Generated by `bash scripts/make_tf_models.sh --onnx` (`scripts/make_tf2onnx_models.py`); do not edit.",
        "The Keras models of `../../Keras` (same seeds and weights), exported as SavedModels, converted by",
        f"`tf2onnx.convert --saved-model --opset {OPSET}`, and their int8 QDQ versions from ONNX Runtime's",
        "`quant_pre_process` + `quantize_static` (int8 activations, per-channel int8 weights, the TFLite",
        "fixtures' representative samples). Outputs from ONNX Runtime on `../../Keras/NAME.inputs.npy`; a model",
        "with several inputs has them here as `NAME.inputs.K.npy`, K in the ONNX graph's input order.",
        "",
        *(["tf2onnx 1.17.0 writes TensorFlow's `Erfc` (Keras's exact GELU) as an `Erfc` node, which is no ONNX",
           "operator (ONNX Runtime refuses it); the script replaces each with the standard `Sub(1, Erf(x))` (a float32",
           "scalar initializer 1; the Sub keeps the Erfc's output name) before the checks and the quantization.",
           "Replaced: " + ", ".join(f"{n} ({k} node{'s' if k > 1 else ''})" for n, k in erfc_replaced.items()) + ".",
           ""] if erfc_replaced else []),
        *(["`quant_pre_process`'s symbolic shape inference gives up on " + ", ".join(auto_merged) + " (Reshapes",
           "with computed shapes, such as transformer_block's attention heads and fusion_net's gate, give the batch",
           "dimension names that it will not broadcast together); there it runs with",
           "`auto_merge=True`, which merges them.",
           ""] if auto_merged else []),
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "| model | input | output | operators |",
        "|---|---|---|---|",
        *[f"| {n} | {i} | {o} | {', '.join(ops)} |" for n, i, o, ops in rows],
        "",
        "A model with several outputs has `NAME.outputs.K.npy`, K in the ONNX graph's output order (tf2onnx's",
        "output names, and the Keras outputs they are; LiteRT's `../../Keras` files have another order):",
        "",
        *[f"- `{n}.outputs.K.npy` and `{n}_qdq.outputs.K.npy`, K = 0…{len(names) - 1}: {', '.join(names)}"
          for n, names in multi_outputs.items()],
        "",
        "Checks when generated: ONNX Runtime on the float model against LiteRT on the float `.tflite`",
        "(`../../Keras/NAME.outputs*.npy`), and the QDQ version against the float model (max |difference| over the",
        "float outputs; for integer outputs, how many elements differ).",
        "",
        "| model | float: ONNX Runtime vs LiteRT | QDQ vs float |",
        "|---|---|---|",
        *[f"| {n} | {c} | {q} |" for n, c, q in checks],
        "",
        "tf2onnx's output is not byte-for-byte reproducible: the graph's doc_string names the temporary SavedModel",
        "folder, and the names of the constants it makes (`roi__33`, `const_fold_opt__75`, …) vary between runs. A",
        "rerun rewrites every .onnx (with equal outputs); keep the committed files of models that did not change.",
        "",
        *([f"Not converted: {'; '.join(f'{n}: {why}' for n, why in failures)}", ""] if failures else []),
        "| file | bytes | sha256 (first 16) |",
        "|---|---|---|",
    ]
    for path in sorted(OUT.glob("*.onnx")) + sorted(OUT.glob("*.npy")):
        data = path.read_bytes()
        lines.append(f"| {path.name} | {len(data)} | `{hashlib.sha256(data).hexdigest()[:16]}` |")
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
