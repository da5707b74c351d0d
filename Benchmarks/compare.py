"""Kiln beside LiteRT on a folder of .tflite models, in one run, as ratios.

Both are driven from this Python process the same way: one inference per
call, one thread, the median of many calls (so both include about a
microsecond of Python call overhead). Kiln artifacts are loaded with ctypes
(an artifact is a shared library followed by a metadata trailer).

Every NAME.tflite with an input file (NAME.inputs.npy, or for NAME_int8 and
NAME_int8io the float model's NAME.inputs.npy) is measured; a model Kiln
cannot compile is listed with the reason.

Usage: python compare.py KILN_EXECUTABLE MODELS_DIR [RUNS]
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



def input_file(models, name):
    """NAME.inputs.npy, or the float model's inputs for an int8 variant."""
    for candidate in (name, name.removesuffix("_int8io"), name.removesuffix("_int8")):
        path = os.path.join(models, candidate + ".inputs.npy")
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
    kiln_tool, models, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    print(f"ctypes call overhead: {call_overhead(runs):.2f} µs (included in the Kiln column)")
    print(f"{'model':<24}{'LiteRT µs':>12}{'Kiln µs':>12}{'LiteRT/Kiln':>14}{'max |Δ|':>12}")
    with tempfile.TemporaryDirectory() as directory:
        names = sorted(entry.removesuffix(".tflite") for entry in os.listdir(models) if entry.endswith(".tflite"))
        for name in names:
            path = os.path.join(models, name + ".tflite")
            inputs = input_file(models, name)
            if inputs is None:
                continue
            compiled = subprocess.run([kiln_tool, "compile", path, "-o", directory], capture_output=True, text=True)
            if compiled.returncode != 0:
                print(f"{name:<24} kiln: {compiled.stderr.strip().splitlines()[-1][:100]}")
                continue
            sample = np.load(inputs)[:1]
            litert_time, litert_output = litert(path, sample, runs)
            kiln_time, kiln_output = kiln(os.path.join(directory, name + ".kiln"), sample, runs)
            difference = np.abs(litert_output.astype(np.float64) - kiln_output.astype(np.float64)).max()
            print(f"{name:<24}{litert_time:>12.2f}{kiln_time:>12.2f}{litert_time / kiln_time:>13.2f}x{difference:>12.2e}")


if __name__ == "__main__":
    main()
