#!/usr/bin/env python3
"""Builds the benchmark models of Benchmarks/ (issue 9, item 7) into Benchmarks/Models/ (git-ignored).

Run it in the models virtualenv (`Benchmarks/run.sh` makes it; or
`.venv-models/bin/python Benchmarks/make_models.py`). Each model is a Keras 3
model with seeded, untrained weights (constant-initialized variables such as
batch-norm statistics and biases get seeded noise, as in
scripts/make_tf_models.py, so that batch norm is no identity; the classifier
is scaled so its logits have a standard deviation of 2 on the representative
samples, so the softmax is not uniform), converted the way that script does it (`model.export(path, format="litert", ...)`):

  NAME.tflite           float32
  NAME_int8.tflite      full-integer int8 weights and activations, float32 input/output,
                        calibrated on 32 seeded random samples in the model's input range
  NAME.inputs.npy       one batch-1 float32 input (seeded), for both
  NAME.onnx, NAME_int8.onnx
                        those .tflite files converted by tf2onnx
                        (`python -m tf2onnx.convert --tflite ... --opset 17`; NHWC input
                        kept, no transposes added), checked against LiteRT with ONNX Runtime

Models:
  mobilenet_v2       keras.applications.MobileNetV2(alpha=1.0, 224x224x3, weights=None, 1000 classes), input [-1, 1]
  resnet8            MLPerf Tiny's ResNet-8 for CIFAR-10 (32x32x3), input [0, 1]
  mobilenet_v1_025   keras.applications.MobileNet(alpha=0.25, 96x96x3, weights=None, 2 classes)
                     (MLPerf Tiny's visual wake words), input [-1, 1]

Also, for each NAME.tflite in ../shared/models (the MLPerf Tiny KWS and AD
models, with NAME.inputs.npy), its tf2onnx conversion NAME.onnx, checked the
same way. The .tflite files are not copied: compare.py reads ../shared/models
and pairs them with these .onnx files.

And gemm/gemm_S.tflite, gemm/gemm_S_int8.tflite (S = 256, 512, 1024): one
FULLY_CONNECTED layer, C[S,S] = A[S,S] B with a constant B, float32 and int8
(int8 input/output), for compare.py --gemm.

Idempotent: a file that exists is kept (use --force to rebuild); the ONNX
Runtime vs LiteRT check runs every time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU only
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 1234
REPRESENTATIVE_SAMPLES = 32
OPSET = 17


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def mobilenet_v2():
    return keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), alpha=1.0, include_top=True, weights=None, classes=1000)


def resnet8():
    """MLPerf Tiny image classification: ResNet-8 (mlcommons/tiny, resnet_v1_eembc), CIFAR-10."""

    def conv(filters, kernel, strides=1):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal")

    inputs = keras.Input((32, 32, 3), name="image")
    x = conv(16, 3)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    filters_in = 16
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        y = conv(filters, 3, strides)(x)
        y = layers.BatchNormalization()(y)
        y = layers.Activation("relu")(y)
        y = conv(filters, 3)(y)
        y = layers.BatchNormalization()(y)
        if strides != 1 or filters != filters_in:
            x = conv(filters, 1, strides)(x)  # the shortcut's 1x1 projection
        x = layers.Add()([x, y])
        x = layers.Activation("relu")(x)
        filters_in = filters
    x = layers.AveragePooling2D(pool_size=int(min(x.shape[1:3])))(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer="he_normal")(x)
    return keras.Model(inputs, outputs, name="resnet8")


def mobilenet_v1_025():
    return keras.applications.MobileNet(
        input_shape=(96, 96, 3), alpha=0.25, include_top=True, weights=None, classes=2)


def uniform(low, high):
    return lambda rng, shape: rng.uniform(low, high, shape).astype(np.float32)


# name -> (builder, input sampler). keras.applications' MobileNets have no preprocessing layer:
# they take pixels scaled to [-1, 1]; the MLPerf Tiny ResNet-8 takes [0, 1].
MODELS = {
    "mobilenet_v2": (mobilenet_v2, uniform(-1.0, 1.0)),
    "resnet8": (resnet8, uniform(0.0, 1.0)),
    "mobilenet_v1_025": (mobilenet_v1_025, uniform(-1.0, 1.0)),
}

# As in scripts/make_tf_models.py: variables Keras initializes to a constant get seeded noise.
SCALE_VARIABLES = {"gamma", "moving_variance"}
OFFSET_VARIABLES = {"beta", "moving_mean", "bias"}


def perturb_constant_variables(model, rng):
    for variable in model.weights:
        name = variable.name.split("/")[-1].split(":")[0]
        if variable.dtype not in ("float32", tf.float32):
            continue
        value = np.asarray(variable.numpy())
        if name in SCALE_VARIABLES:
            value = value * rng.uniform(0.8, 1.2, value.shape)
        elif name in OFFSET_VARIABLES:
            value = value + rng.normal(0.0, 0.05, value.shape)
        else:
            continue
        variable.assign(value.astype(np.float32))


LOGIT_STD = 2.0


def spread_logits(model, samples):
    """Scales the classifier (the last layer with a kernel) so its logits have a standard deviation of
    LOGIT_STD on the representative samples. Untrained MobileNets give logits of about 1e-4, so the
    softmax is uniform (MobileNetV2: every probability about 1/1000, all 0 in the int8 model's output):
    a model like that measures speed but its output difference would say nothing."""
    classifier = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None][-1]
    features = np.asarray(keras.Model(model.inputs, classifier.input)([np.stack(samples)]))
    kernel, bias = classifier.kernel, classifier.bias
    logits = features.reshape(len(samples), -1) @ np.asarray(kernel).reshape(-1, kernel.shape[-1]) + np.asarray(bias)
    scale = LOGIT_STD / float(logits.std())
    kernel.assign(np.asarray(kernel) * scale)
    bias.assign(np.asarray(bias) * scale)
    return classifier.name, scale


# --------------------------------------------------------------------------
# Conversion and checks
# --------------------------------------------------------------------------


def int8_options(samples):
    def representative_dataset():
        for sample in samples:
            yield [sample[None, ...]]

    return dict(
        optimizations=[tf.lite.Optimize.DEFAULT],
        representative_dataset=representative_dataset,
        target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
    )


def run_litert(path, x):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def run_onnx(path, x):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (feed,) = session.get_inputs()
    if len(feed.shape) == 4 and isinstance(feed.shape[3], int) and feed.shape[3] != x.shape[3]:
        raise RuntimeError(f"ONNX input {feed.name} {feed.shape} is not NHWC like {list(x.shape)}")
    return session.run(None, {feed.name: x})[0], feed


def to_onnx(tflite, onnx_path):
    """tf2onnx on the .tflite (NHWC input kept: no --inputs-as-nchw). Returns an error line or None."""
    done = subprocess.run(
        [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(onnx_path),
         "--opset", str(OPSET)], capture_output=True, text=True)
    if done.returncode != 0 or not onnx_path.exists():
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"tf2onnx exited with {done.returncode}"
    return None


def convert_and_check(variant, tflite, onnx_path, x, force, wrote, problems):
    """NAME.onnx from NAME.tflite (unless it exists and is newer), then ONNX Runtime's output beside LiteRT's on x."""
    if force or not onnx_path.exists() or onnx_path.stat().st_mtime < tflite.stat().st_mtime:
        t0 = time.time()
        error = to_onnx(tflite, onnx_path)
        if error:
            problems.append(f"{variant}: tf2onnx failed: {error}")
            print(f"  {variant}.onnx: tf2onnx failed: {error}", flush=True)
            onnx_path.unlink(missing_ok=True)
            return
        wrote.append(onnx_path)
        print(f"  wrote {onnx_path.name} ({onnx_path.stat().st_size} bytes, {time.time() - t0:.1f} s)", flush=True)
    reference = run_litert(tflite, x)
    try:
        converted, feed = run_onnx(onnx_path, x)
    except Exception as error:  # noqa: BLE001 (reported; the others go on)
        problems.append(f"{variant}.onnx: ONNX Runtime: {error}")
        print(f"  {variant}.onnx: ONNX Runtime: {error}", flush=True)
        return
    difference = float(np.abs(reference.astype(np.float64) - converted.astype(np.float64)).max())
    largest = float(np.abs(reference.astype(np.float64)).max())
    # Float: the same arithmetic in another order (LiteRT runs float models through XNNPACK). Int8: ONNX
    # Runtime fuses the QuantizeLinear/DequantizeLinear pairs tf2onnx writes into its own int8 kernels, whose
    # rounding may differ by a step; an int8 output is compared in steps.
    tolerance = 2.0 if reference.dtype == np.int8 else 1e-2 * max(1.0, largest)
    verdict = "ok" if difference <= tolerance else "DIFFERS"
    if verdict != "ok":
        problems.append(f"{variant}: ONNX Runtime vs LiteRT max |diff| {difference:.3g} (> {tolerance:.3g})")
    print(f"  {variant}: ONNX input {feed.name} {feed.shape} {feed.type}; ONNX Runtime vs LiteRT max |diff| "
          f"{difference:.3g} over {reference.size} {reference.dtype} outputs (max |LiteRT| {largest:.3g}) {verdict}",
          flush=True)


def build(name, out, force, wrote, problems):
    builder, sampler = MODELS[name]
    inputs_path = out / f"{name}.inputs.npy"
    variants = [name, f"{name}_int8"]
    tflites = {v: out / f"{v}.tflite" for v in variants}
    need_keras = force or not inputs_path.exists() or not all(p.exists() for p in tflites.values())
    started = time.time()
    if need_keras:
        keras.utils.set_random_seed(SEED)
        model = builder()
        perturb_constant_variables(model, np.random.default_rng(SEED))
        shape = tuple(model.inputs[0].shape[1:])
        rep_rng, input_rng = np.random.default_rng(SEED + 1), np.random.default_rng(SEED + 2)
        samples = [sampler(rep_rng, shape) for _ in range(REPRESENTATIVE_SAMPLES)]
        classifier, scale = spread_logits(model, samples)
        if force or not inputs_path.exists():
            np.save(inputs_path, sampler(input_rng, (1, *shape)))
            wrote.append(inputs_path)
        print(f"{name}: {model.count_params()} parameters, {len(model.layers)} Keras layers; "
              f"classifier {classifier} scaled by {scale:.3g} (logit std {LOGIT_STD})", flush=True)
        for variant, options in ((name, {}), (f"{name}_int8", int8_options(samples))):
            path = tflites[variant]
            if force or not path.exists():
                t0 = time.time()
                model.export(str(path), format="litert", verbose=False, **options)
                wrote.append(path)
                print(f"  wrote {path.name} ({path.stat().st_size} bytes, {time.time() - t0:.1f} s)", flush=True)
        del model
        keras.backend.clear_session()
    x = np.load(inputs_path)
    for variant in variants:
        convert_and_check(variant, tflites[variant], out / f"{variant}.onnx", x, force, wrote, problems)
    print(f"  {name} done in {time.time() - started:.1f} s", flush=True)


GEMM_SIZES = (256, 512, 1024)


def build_gemm(out, force, wrote):
    """gemm/gemm_S.tflite (float32) and gemm/gemm_S_int8.tflite (int8 with int8 input/output): one
    FULLY_CONNECTED layer C[S,S] = A[S,S] B, B constant (seeded), for compare.py --gemm."""
    out.mkdir(parents=True, exist_ok=True)
    for size in GEMM_SIZES:
        paths = {"": out / f"gemm_{size}.tflite", "_int8": out / f"gemm_{size}_int8.tflite"}
        if not force and all(p.exists() for p in paths.values()):
            continue
        keras.utils.set_random_seed(SEED)
        a = keras.Input((size,))
        model = keras.Model(a, layers.Dense(size, use_bias=False)(a), name=f"gemm_{size}")
        rng = np.random.default_rng(SEED + 1)
        samples = [rng.standard_normal((size, size)).astype(np.float32) for _ in range(4)]

        def representative_dataset():
            for sample in samples:
                yield [sample]

        signature = [tf.TensorSpec((size, size), tf.float32)]  # M = size rows, not a batch of 1
        options = {"": {}, "_int8": dict(
            optimizations=[tf.lite.Optimize.DEFAULT], representative_dataset=representative_dataset,
            target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
            inference_input_type=tf.int8, inference_output_type=tf.int8)}
        for suffix, path in paths.items():
            if force or not path.exists():
                model.export(str(path), format="litert", verbose=False, input_signature=signature, **options[suffix])
                wrote.append(path)
                print(f"  wrote gemm/{path.name} ({path.stat().st_size} bytes)", flush=True)
        keras.backend.clear_session()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "Models")
    parser.add_argument("--only", nargs="*", choices=sorted(MODELS), help="build only these models")
    parser.add_argument("--force", action="store_true", help="rebuild files that exist")
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared/models",
                        help="the shared MLPerf Tiny models: their .tflite files get tf2onnx versions in --out")
    args = parser.parse_args()
    # One thread for TensorFlow: the converter's calibration is single-threaded anyway, and this
    # keeps the machine usable for whatever else runs.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    wrote, problems = [], []
    for name in args.only or list(MODELS):
        build(name, args.out, args.force, wrote, problems)
    if not args.only:
        build_gemm(args.out / "gemm", args.force, wrote)
    if args.shared.is_dir() and not args.only:
        # The shared MLPerf Tiny models stay where they are; only their tf2onnx conversions are written here
        # (compare.py pairs NAME.onnx with the NAME.tflite of another folder it is given).
        print(f"{args.shared}: tf2onnx conversions", flush=True)
        for tflite in sorted(args.shared.glob("*.tflite")):
            name = tflite.stem
            inputs = args.shared / f"{name}.inputs.npy"
            if not inputs.exists():
                continue
            x = np.load(inputs)[:1]
            convert_and_check(name, tflite, args.out / f"{name}.onnx", x, args.force, wrote, problems)
    print(f"\nmake_models: wrote {len(wrote)} file(s) to {args.out} in {time.time() - started:.1f} s"
          + ("" if wrote else " (all present; --force rebuilds)"))
    for path in wrote:
        print(f"  {path.name}")
    for problem in problems:
        print(f"problem: {problem}")
    return 0  # problems are reported; compare.py shows "—" for a missing .onnx


if __name__ == "__main__":
    sys.exit(main())
