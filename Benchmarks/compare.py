"""Kiln beside LiteRT (.tflite) or ONNX Runtime (.onnx) on a folder of models, in one run, as ratios.

Each pair is driven from this Python process the same way: one inference per
call, one thread, the median of many calls (so both include about a
microsecond of Python call overhead). Kiln artifacts are loaded with ctypes
(an artifact is a shared library followed by a metadata trailer).

Every NAME.tflite or NAME.onnx with an input file (NAME.inputs.npy, or for
NAME_int8, NAME_int8io and NAME_qdq the float model's NAME.inputs.npy, looked
for in MODELS_DIR and then in INPUTS_DIR) is measured; a model Kiln cannot
compile is listed with the reason. ONNX images are NCHW and Kiln's imported
ones NHWC: the input is transposed for Kiln, as a user of both would.

Usage: python compare.py KILN_EXECUTABLE MODELS_DIR [RUNS] [INPUTS_DIR]
"""

import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter



def input_file(folders, name):
    """NAME.inputs.npy, or the float model's inputs for an int8 variant."""
    for folder in folders:
        for candidate in (name, name.removesuffix("_int8io"), name.removesuffix("_int8"), name.removesuffix("_qdq")):
            path = os.path.join(folder, candidate + ".inputs.npy")
            if os.path.exists(path):
                return path
    return None


def median_microseconds(call, runs):
    for _ in range(min(200, runs)):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    return samples[len(samples) // 2] / 1000


def litert(path, sample, runs):
    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    interpreter.set_tensor(input_index, sample)
    interpreter.invoke()
    output = interpreter.get_tensor(output_index).copy()
    return median_microseconds(interpreter.invoke, runs), output


def onnx_runtime(path, sample, runs):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: sample}
    call = lambda: session.run(None, feed)  # noqa: E731
    return median_microseconds(call, runs), call()[0]


def kiln(artifact, sample, runs):
    data = open(artifact, "rb").read()
    library_size, metadata_size, _ = struct.unpack("<QQQ", data[-32:-8])
    metadata = json.loads(data[library_size:library_size + metadata_size])
    library = ctypes.CDLL(artifact)
    entry = getattr(library, metadata["entryPoint"])
    entry.restype = None
    arena = np.zeros(max(metadata["arenaByteCount"], 1) + 64, dtype=np.uint8)
    arena_address = arena.ctypes.data + (-arena.ctypes.data) % 64
    signature = metadata["outputs"][0]
    output = np.zeros(signature["shape"], dtype={"float32": np.float32, "int8": np.int8}[signature["elementType"]])
    expected_shape = metadata["inputs"][0]["shape"]
    if sample.ndim == 4 and list(sample.shape) != expected_shape:
        sample = sample.transpose(0, 2, 3, 1)  # an ONNX NCHW image, imported as NHWC
    source = np.ascontiguousarray(sample)
    inputs = (ctypes.c_void_p * 1)(source.ctypes.data)
    outputs = (ctypes.c_void_p * 1)(output.ctypes.data)
    # Arguments converted to ctypes once, so each call pays only ctypes' dispatch.
    arguments = (ctypes.c_void_p(arena_address), inputs, outputs)
    call = lambda: entry(*arguments)  # noqa: E731
    call()
    return median_microseconds(call, runs), output.copy()


def call_overhead(runs):
    """The median cost of calling an empty C function through ctypes, for reference."""
    libc = ctypes.CDLL(None)
    getpid = libc.getpid
    return median_microseconds(getpid, runs)


def main():
    kiln_tool, models = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    folders = [models] + sys.argv[4:5]
    print(f"ctypes call overhead: {call_overhead(runs):.2f} µs (included in the Kiln column)")
    print(f"{'model':<28}{'runtime':>9}{'its µs':>11}{'Kiln µs':>11}{'it/Kiln':>10}{'max |Δ|':>12}")
    runtimes = {".tflite": ("LiteRT", litert), ".onnx": ("ORT", onnx_runtime)}
    with tempfile.TemporaryDirectory() as directory:
        files = sorted(entry for entry in os.listdir(models) if os.path.splitext(entry)[1] in runtimes)
        for file in files:
            name, extension = os.path.splitext(file)
            label, reference = runtimes[extension]
            path = os.path.join(models, file)
            inputs = input_file(folders, name)
            if inputs is None:
                continue
            compiled = subprocess.run([kiln_tool, "compile", path, "-o", directory], capture_output=True, text=True)
            if compiled.returncode != 0:
                print(f"{name:<28} kiln: {compiled.stderr.strip().splitlines()[-1][:100]}")
                continue
            sample = np.load(inputs)[:1]
            reference_time, reference_output = reference(path, sample, runs)
            kiln_time, kiln_output = kiln(os.path.join(directory, name + ".kiln"), sample, runs)
            difference = np.abs(
                reference_output.astype(np.float64).reshape(-1) - kiln_output.astype(np.float64).reshape(-1)).max()
            print(f"{name:<28}{label:>9}{reference_time:>11.2f}{kiln_time:>11.2f}{reference_time / kiln_time:>9.2f}x"
                  f"{difference:>12.2e}")


if __name__ == "__main__":
    main()
