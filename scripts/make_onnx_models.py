#!/usr/bin/env python3
"""Builds Kiln's ONNX import fixtures: NCHW models written with the `onnx` helper API.

Run it through scripts/make_onnx_models.sh, which makes the pinned virtualenv
(.venv-onnx) first. Each model has seeded random weights, is checked by
`onnx.checker`, and is run by ONNX Runtime on a seeded input; both go next to
the model. The graphs use the constructs PyTorch's and tf2onnx's exporters
write: explicit and automatic padding, batch normalization after
convolutions, Clip as ReLU6, residual additions, depthwise convolutions
(group = channels), Flatten of a feature map into Gemm, shape arithmetic
(Shape → Gather → Unsqueeze → Concat → Reshape), LayerNormalization, batched
MatMul, Transpose, Softmax.

Image models also get an int8 QDQ version, made the way ONNX Runtime documents
it (`quant_pre_process`, then `quantize_static` with QDQ format, int8
activations and per-channel int8 weights, calibrated on seeded random images).

Writes into Tests/KilnTests/Fixtures/ONNX/:
  NAME.onnx            the model
  NAME_qdq.onnx        its int8 QDQ version (image models)
  NAME.inputs.npy      ONNX Runtime's input (NCHW for images, as ONNX has it; also NAME_qdq's)
  NAME.outputs.npy     ONNX Runtime's output (NAME_qdq.outputs.npy for the QDQ version)
  README.md            how the files were made, versions and checksums
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

OUT = Path(__file__).resolve().parent.parent / "Tests/KilnTests/Fixtures/ONNX"


class Builder:
    """Collects nodes and seeded initializers for one graph."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def constant(self, values, kind="const", dtype=np.float32) -> str:
        name = self.name(kind)
        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def weights(self, shape, scale=None, kind="w") -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = scale if scale is not None else 1.0 / np.sqrt(fan_in)
        return self.constant(self.rng.uniform(-scale, scale, shape), kind)

    def node(self, op: str, inputs, outputs=1, **attributes):
        names = [self.name(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), names, name=names[0], **attributes))
        return names[0] if outputs == 1 else names

    def conv(self, x, cin, cout, k, group=1, bias=True, **attributes):
        inputs = [x, self.weights([cout, cin // group, k, k])]
        if bias:
            inputs.append(self.constant(self.rng.uniform(-0.1, 0.1, [cout]), "b"))
        return self.node("Conv", inputs, kernel_shape=[k, k], group=group, **attributes)

    def batch_norm(self, x, channels):
        rng = self.rng
        parameters = [
            self.constant(rng.uniform(0.5, 1.5, [channels]), "gamma"),
            self.constant(rng.uniform(-0.2, 0.2, [channels]), "beta"),
            self.constant(rng.uniform(-0.2, 0.2, [channels]), "mean"),
            self.constant(rng.uniform(0.5, 1.5, [channels]), "var"),
        ]
        return self.node("BatchNormalization", [x, *parameters], epsilon=1e-3)

    def model(self, name, inputs, outputs, opset):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="kiln-fixtures")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


def image_input(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def cnn():
    """Conv (explicit pads) → BN → Relu → MaxPool → Conv (asymmetric pads, stride 2) → BN → Clip(0, 6)
    → GlobalAveragePool → Flatten → Gemm → Softmax; opset 13, a symbolic batch."""
    b = Builder(1)
    x = b.conv("image", 3, 8, 3, pads=[1, 1, 1, 1])
    x = b.node("Relu", [b.batch_norm(x, 8)])
    x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv(x, 8, 16, 3, strides=[2, 2], pads=[1, 1, 0, 0])
    x = b.batch_norm(x, 16)
    x = b.node("Clip", [x, b.constant(0.0, "min"), b.constant(6.0, "max")])
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x], axis=1)
    x = b.node("Gemm", [x, b.weights([16, 10]), b.constant(b.rng.uniform(-0.1, 0.1, [10]), "b")])
    y = b.node("Softmax", [x], axis=1)
    return b.model("cnn", [image_input("image", ["N", 3, 32, 32])], [helper.make_tensor_value_info(y, TensorProto.FLOAT, ["N", 10])], 13)


def residual():
    """Conv → Relu → Conv + 1×1 stride-2 shortcut → Relu → AveragePool (pads, not counted)
    → MaxPool (pads) → Flatten of a 4×4 map → Gemm (transB); opset 17."""
    b = Builder(2)
    x = b.conv("image", 4, 8, 3, strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("Relu", [x])
    main = b.conv(x, 8, 8, 3, pads=[1, 1, 1, 1], bias=False)
    shortcut = b.conv("image", 4, 8, 1, strides=[2, 2])
    x = b.node("Relu", [b.node("Add", [main, shortcut])])
    x = b.node("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=0)
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.node("Flatten", [x])
    y = b.node("Gemm", [x, b.weights([6, 8 * 4 * 4]), b.constant(b.rng.uniform(-0.1, 0.1, [6]), "b")], transB=1, alpha=0.5, beta=2.0)
    return b.model("residual", [image_input("image", [1, 4, 16, 16])], [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 6])], 17)


def depthwise():
    """MobileNet-style block: 1×1 expand → HardSwish → depthwise 3×3 (SAME_UPPER, stride 2) → BN → Relu
    → 1×1 project + per-channel constant → Transpose to NHWC → Reshape → MatMul → Sigmoid; opset 21."""
    b = Builder(3)
    x = b.node("HardSwish", [b.conv("image", 3, 12, 1)])
    x = b.conv(x, 12, 12, 3, group=12, strides=[2, 2], auto_pad="SAME_UPPER")
    x = b.node("Relu", [b.batch_norm(x, 12)])
    x = b.conv(x, 12, 6, 1)
    x = b.node("Add", [x, b.constant(b.rng.uniform(-0.5, 0.5, [6, 1, 1]), "channel_bias")])
    x = b.node("Transpose", [x], perm=[0, 2, 3, 1])
    x = b.node("Reshape", [x, b.constant([1, -1], "shape", np.int64)])
    x = b.node("MatMul", [x, b.weights([6 * 10 * 10, 5])])
    y = b.node("Sigmoid", [x])
    return b.model("depthwise", [image_input("image", [1, 3, 20, 20])], [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 5])], 21)


def encoder():
    """Transformer-style block on [1, 8, 16] tokens: LayerNormalization, Q/K/V MatMul + Add, heads by
    Reshape/Transpose, batched MatMul, Softmax, shape arithmetic (Shape → Gather → Unsqueeze → Concat →
    Reshape), residual Add, GELU through Erf, ReduceMean; opset 17."""
    b = Builder(4)
    tokens, width, heads = 8, 16, 2
    x = b.node("LayerNormalization", ["tokens", b.constant(b.rng.uniform(0.5, 1.5, [width]), "gamma"),
                                      b.constant(b.rng.uniform(-0.2, 0.2, [width]), "beta")], axis=-1, epsilon=1e-5)

    def project(x):
        return b.node("Add", [b.node("MatMul", [x, b.weights([width, width])]), b.constant(b.rng.uniform(-0.1, 0.1, [width]), "b")])

    def split_heads(x):
        x = b.node("Reshape", [x, b.constant([1, tokens, heads, width // heads], "shape", np.int64)])
        return b.node("Transpose", [x], perm=[0, 2, 1, 3])

    q, k, v = (split_heads(project(x)) for _ in range(3))
    scores = b.node("MatMul", [q, b.node("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = b.node("Div", [scores, b.constant(np.sqrt(width // heads), "scale")])
    attention = b.node("MatMul", [b.node("Softmax", [scores], axis=-1), v])
    attention = b.node("Transpose", [attention], perm=[0, 2, 1, 3])
    # The shape arithmetic PyTorch writes for `x.reshape(x.shape[0], x.shape[1], -1)`.
    shape = b.node("Shape", [attention])
    batch = b.node("Unsqueeze", [b.node("Gather", [shape, b.constant(0, "index", np.int64)], axis=0), b.constant([0], "axes", np.int64)])
    length = b.node("Unsqueeze", [b.node("Gather", [shape, b.constant(1, "index", np.int64)], axis=0), b.constant([0], "axes", np.int64)])
    target = b.node("Concat", [batch, length, b.constant([-1], "rest", np.int64)], axis=0)
    attention = b.node("Reshape", [attention, target])
    x = b.node("Add", ["tokens", project(attention)])
    # GELU as PyTorch exports it before opset 20: x · 0.5 · (1 + erf(x / √2)).
    pre = project(x)
    erf = b.node("Erf", [b.node("Div", [pre, b.constant(np.sqrt(2.0), "sqrt2")])])
    hidden = b.node("Mul", [b.node("Mul", [pre, b.constant(0.5, "half")]), b.node("Add", [erf, b.constant(1.0, "one")])])
    x = b.node("Add", [x, hidden])
    y = b.node("ReduceMean", [x], axes=[1], keepdims=0)
    return b.model("encoder", [helper.make_tensor_value_info("tokens", TensorProto.FLOAT, [1, tokens, width])],
                   [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, width])], 17)


MODELS = {"cnn": cnn, "residual": residual, "depthwise": depthwise, "encoder": encoder}
QDQ_MODELS = ["cnn", "residual", "depthwise"]


class RandomImages(CalibrationDataReader):
    """Sixteen seeded uniform [-1, 1) inputs for calibration."""

    def __init__(self, name, shape):
        rng = np.random.default_rng(7)
        self.batches = iter([{name: rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(16)])

    def get_next(self):
        return next(self.batches, None)


def quantized(path: Path, feed_name: str, shape) -> Path:
    """ONNX Runtime's documented static quantization: pre-process, then QDQ int8."""
    prepared = path.with_name(path.stem + "_prepared.onnx")
    output = path.with_name(path.stem + "_qdq.onnx")
    quant_pre_process(str(path), str(prepared))
    quantize_static(
        str(prepared), str(output), RandomImages(feed_name, shape), quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    prepared.unlink()
    return output


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (name, build) in enumerate(MODELS.items()):
        model = build()
        path = OUT / f"{name}.onnx"
        onnx.save(model, path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = session.get_inputs()[0]
        shape = [1 if not isinstance(d, int) else d for d in feed.shape]
        rng = np.random.default_rng(100 + index)
        inputs = rng.uniform(-1, 1, shape).astype(np.float32)
        (outputs,) = session.run(None, {feed.name: inputs})
        np.save(OUT / f"{name}.inputs.npy", inputs)
        np.save(OUT / f"{name}.outputs.npy", outputs.astype(np.float32))
        ops = sorted({node.op_type for node in model.graph.node})
        rows.append((name, model.opset_import[0].version, shape, list(outputs.shape), ops))
        print(f"{name}: opset {rows[-1][1]}, input {shape}, output {rows[-1][3]}, {len(model.graph.node)} nodes")
        if name in QDQ_MODELS:
            qdq_path = quantized(path, feed.name, shape)
            qdq = onnx.load(qdq_path)
            session = ort.InferenceSession(str(qdq_path), providers=["CPUExecutionProvider"])
            (outputs,) = session.run(None, {feed.name: inputs})
            np.save(OUT / f"{name}_qdq.outputs.npy", outputs.astype(np.float32))
            ops = sorted({node.op_type for node in qdq.graph.node})
            rows.append((f"{name}_qdq", qdq.opset_import[0].version, shape, list(outputs.shape), ops))
            print(f"{name}_qdq: {len(qdq.graph.node)} nodes, {ops}")
    versions = {package: importlib.metadata.version(package) for package in ("onnx", "onnxruntime", "numpy", "sympy")}
    lines = [
        "# ONNX import fixtures",
        "",
        "Generated by `scripts/make_onnx_models.sh` (`scripts/make_onnx_models.py`); do not edit.",
        "NCHW models written with the `onnx` helper API, seeded random weights, checked by",
        "`onnx.checker`; outputs from ONNX Runtime's CPU provider on the seeded input.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "| model | opset | input | output | operators |",
        "|---|---|---|---|---|",
    ]
    for name, opset, shape, out_shape, ops in rows:
        lines.append(f"| {name} | {opset} | {shape} | {out_shape} | {', '.join(ops)} |")
    lines += ["", "| file | bytes | sha256 (first 16) |", "|---|---|---|"]
    for path in sorted(OUT.glob("*.onnx")) + sorted(OUT.glob("*.npy")):
        data = path.read_bytes()
        lines.append(f"| {path.name} | {len(data)} | `{hashlib.sha256(data).hexdigest()[:16]}` |")
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
