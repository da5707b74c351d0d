"""Every converter-made test fixture on the OpenCL delegate against Kiln's CPU code, in one table.

Each .tflite of Tests/KilnTests/Fixtures/Keras and .onnx of Tests/KilnTests/Fixtures/ONNX (and
its pytorch folder) is compiled with `kiln compile --delegate opencl --all-supported-layers`, run
with `kiln run --delegate opencl` and `--delegate cpu` on the fixture's own inputs (the first
entry of NAME.inputs.npy, or NAME.inputs.K.npy for several inputs; quantized variants use their
float model's), and every output is compared: how many layers ran on the delegate, and the
largest difference relative to the largest output. On PoCL this checks placement and results, not
speed.

Usage:
  python delegate_fixtures.py KILN_EXECUTABLE [NAME ...]
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "KilnTests", "Fixtures")
VARIANT = re.compile(r"_(int8io|int8|qdq|qopms|qop|dynamo|ts)$")


def fixtures():
    """(name, model path, input paths) for every fixture model with inputs."""
    paths = sorted(glob.glob(os.path.join(FIXTURES, "Keras", "*.tflite")))
    paths += sorted(glob.glob(os.path.join(FIXTURES, "ONNX", "*.onnx")))
    paths += sorted(glob.glob(os.path.join(FIXTURES, "ONNX", "pytorch", "*.onnx")))
    for path in paths:
        folder, file = os.path.split(path)
        name = os.path.splitext(file)[0]
        base = VARIANT.sub("", name)
        inputs = sorted(p for p in glob.glob(os.path.join(folder, f"{base}.inputs*.npy"))
                        if re.search(r"\.inputs(\.\d+)?\.npy$", p))
        yield name, path, inputs


def sample_files(inputs, directory, layout):
    """The first entry of each input file, saved for `kiln run`: as stored ('raw'), NCHW images
    turned NHWC ('nhwc'), or with a batch axis added ('batched')."""
    files = []
    for number, path in enumerate(inputs):
        value = np.load(path)
        if layout == "batched":
            value = value[np.newaxis]
        else:
            value = value[:1]
            if layout == "nhwc" and value.ndim == 4:
                value = value.transpose(0, 2, 3, 1)
        files.append(os.path.join(directory, f"input{number}.npy"))
        np.save(files[-1], np.ascontiguousarray(value))
    return files


def run(kiln, artifact, processor, inputs, directory, outputs):
    """The artifact's outputs on `processor`, or the last line of kiln's error."""
    files = [os.path.join(directory, f"{processor}{k}.npy") for k in range(outputs)]
    arguments = [kiln, "run", artifact, "--delegate", processor]
    for path in inputs:
        arguments += ["--inputs", path]
    for path in files:
        arguments += ["--outputs", path]
    result = subprocess.run(arguments, capture_output=True, text=True)
    if result.returncode != 0:
        return None, (result.stderr.strip().splitlines() or ["exit %d" % result.returncode])[-1]
    return [np.load(path) for path in files], None


def measure(kiln, name, path, inputs, directory):
    """One table row for the fixture."""
    compiled = subprocess.run(
        [kiln, "compile", path, "-o", directory, "--delegate", "opencl", "--all-supported-layers", "--target", "host"],
        capture_output=True, text=True)
    if compiled.returncode != 0:
        return [name, "—", "compile: " + compiled.stderr.strip().splitlines()[-1][:100]]
    placed = re.search(r"opencl: (\d+ of \d+) layers", compiled.stdout)
    artifact = glob.glob(os.path.join(directory, "*.kiln"))[0]
    outputs, error = 1, None
    for layout in ["nhwc" if path.endswith(".onnx") else "raw", "raw", "batched"]:
        samples = sample_files(inputs, directory, layout)
        results, error = run(kiln, artifact, "cpu", samples, directory, outputs)
        count = re.search(r"the model has (\d+) outputs", error or "")
        if count:
            outputs = int(count.group(1))
            results, error = run(kiln, artifact, "cpu", samples, directory, outputs)
        if results is not None:
            break
    if results is None:
        return [name, placed.group(1) if placed else "?", "cpu: " + error[:100]]
    delegated, error = run(kiln, artifact, "opencl", samples, directory, outputs)
    if delegated is None:
        return [name, placed.group(1) if placed else "?", "opencl: " + error[:100]]
    worst = 0.0
    for cpu, device in zip(results, delegated):
        cpu, device = cpu.astype(np.float64), device.astype(np.float64)
        if not np.array_equal(np.isnan(cpu), np.isnan(device)):
            return [name, placed.group(1), "NaN in different places"]
        finite = ~np.isnan(cpu)
        scale = max(np.abs(cpu[finite]).max(initial=0), 1e-30)
        worst = max(worst, np.abs(cpu[finite] - device[finite]).max(initial=0) / scale)
    return [name, placed.group(1) if placed else "?", f"{worst:.2e}"]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    kiln, only = sys.argv[1], set(sys.argv[2:])
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, (name, path, inputs) in enumerate(fixtures()):
            if only and name not in only:
                continue
            if not inputs or name.endswith("_int8io"):
                rows.append([name, "—", "takes int8 inputs; the input files hold floats" if inputs else "no input file"])
                continue
            directory = os.path.join(scratch, str(number))
            os.makedirs(directory)
            rows.append(measure(kiln, name, path, inputs, directory))
            print(f"  {name}: {rows[-1][1]} on opencl, {rows[-1][2]}", file=sys.stderr, flush=True)
    header = ["model", "layers on opencl", "largest difference / largest output"]
    widths = [max(len(str(row[k])) for row in rows + [header]) for k in range(3)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")


if __name__ == "__main__":
    main()
