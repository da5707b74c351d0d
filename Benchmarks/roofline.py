"""How close each model runs to this core's limits, and whether Kiln/LiteRT ≤ 0.8 is within reach.

For each .tflite model with an input file (as compare.py finds them), one thread:
- its floor: the time no runtime running the same algorithms can beat on this core.
  The compute floor is each layer's multiply-adds (`kiln inspect`; 2.25× fewer for
  the layers Kiln runs as Winograd F(2×2, 3×3)) at the core's measured peak for the
  layer's arithmetic (float32 FMA, or int8 `vpdpbusd` for qs8/qd8 kernels); the memory floor
  is the model's weight bytes read at the measured rate of reading that many bytes
  again and again (L1, L2, L3 or memory, as the size falls). The floor is the larger
  of the two (they can overlap), plus the ctypes call overhead that the harness's
  Kiln column pays.
- Kiln's and LiteRT's medians, measured as compare.py measures them (interleaved);
- the share of the floor Kiln reaches, and the share a runtime would need to run at
  0.8 × LiteRT's time: above 100 %, no code can meet that ratio on this machine.

Peaks and bandwidths come from Benchmarks/peak.c (compiled here with `cc -O2`;
x86-64 with AVX2, int8 peaks with AVX-512 VNNI). The floor ignores the work that
is neither a multiply-add nor a weight read (activations, requantization,
pooling), so it is a lower bound.

Usage:
  python roofline.py KILN_EXECUTABLE MODELS_DIR [MODELS_DIR ...] [--runs N]
"""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (LiteRT, the ctypes loader and the interleaved timing)

import numpy as np  # noqa: E402

INT8_KERNEL = re.compile(r"^q[sd]8_")
# Winograd F(2×2, 3×3): 16 multiplies per 2×2 outputs where direct convolution does 36.
WINOGRAD_SAVING = 36 / 16
KERNEL = re.compile(r"^(f32|f16|qs8|qd8)_")


def measure_peaks(byte_counts):
    """peak.c's figures: {'f32': MAC/s, 'int8': MAC/s or 0, 'read': {bytes: bytes/s}}."""
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peak.c")
    with tempfile.TemporaryDirectory() as directory:
        program = os.path.join(directory, "peak")
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-o", program, source], check=True)
        lines = subprocess.run([program] + [str(b) for b in byte_counts], check=True, capture_output=True,
                               text=True).stdout.splitlines()
    peaks = {"read": {}}
    for line in lines:
        fields = line.split()
        if fields[0] == "read_bytes_per_second":
            peaks["read"][int(fields[1])] = float(fields[2])
        else:
            peaks[fields[0].split("_")[0]] = float(fields[1])
    return peaks


def inspect(kiln_tool, path):
    """(float32 multiplies, int8 multiplies, weight bytes) from `kiln inspect`, Winograd layers' as run."""
    output = subprocess.run([kiln_tool, "inspect", path], check=True, capture_output=True, text=True).stdout
    float_macs = int8_macs = weight_bytes = 0
    for line in output.splitlines():
        if line.startswith("weight bytes:"):
            weight_bytes = int(line.split()[-1])
            continue
        tokens = line.split()
        for index, token in enumerate(tokens[1:], start=1):
            if KERNEL.match(token) and tokens[index - 1].isdigit():
                macs = int(tokens[index - 1])
                if "winograd" in token:
                    macs = round(macs / WINOGRAD_SAVING)
                if INT8_KERNEL.match(token):
                    int8_macs += macs
                else:
                    float_macs += macs
                break
    return float_macs, int8_macs, weight_bytes


def main():
    arguments = sys.argv[1:]
    runs = 2000
    if "--runs" in arguments:
        position = arguments.index("--runs")
        runs = int(arguments[position + 1])
        del arguments[position:position + 2]
    if len(arguments) < 2:
        sys.exit(__doc__)
    kiln_tool, folders = arguments[0], arguments[1:]
    models = []
    for name, folder, tflite, _ in compare.find_models(folders):
        files = compare.input_files([folder] + [f for f in folders if f != folder], name)
        if tflite is not None and files is not None:
            models.append((name, tflite, files, inspect(kiln_tool, tflite)))
    peaks = measure_peaks(sorted({weights for *_, (_, _, weights) in models if weights > 0}))
    overhead = compare.call_overhead(runs)
    print(f"Peaks on this core: float32 {peaks['f32'] / 1e9:.1f} G multiply-adds/s, int8 "
          f"{peaks['int8'] / 1e9:.1f} G/s; ctypes call overhead {overhead:.2f} µs (added to each floor)")
    header = ["model", "multiplies", "weight bytes", "read GB/s", "compute floor µs", "memory floor µs", "floor µs",
              "Kiln µs", "LiteRT µs", "Kiln/LiteRT", "Kiln reaches", "0.8×LiteRT needs"]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for number, (name, tflite, files, (float_macs, int8_macs, weight_bytes)) in enumerate(models):
            samples = [np.load(file)[:1] for file in files]
            sample = samples[0] if len(samples) == 1 else samples
            int8_peak = peaks["int8"] or peaks["f32"]  # no VNNI: a looser bound
            compute = (float_macs / peaks["f32"] + int8_macs / int8_peak) * 1e6
            bandwidth = peaks["read"].get(weight_bytes)
            memory = weight_bytes / bandwidth * 1e6 if bandwidth else 0.0
            floor = max(compute, memory) + overhead
            artifact = compare.compile_with_kiln(kiln_tool, tflite, os.path.join(directory, str(number)))
            calls = {"Kiln": compare.kiln(artifact, sample)[0], "LiteRT": compare.litert(tflite, sample)[0]}
            times = compare.interleaved_medians(calls, runs)
            kiln_time, litert_time = times["Kiln"], times["LiteRT"]
            rows.append([
                name, str(float_macs + int8_macs), str(weight_bytes),
                f"{bandwidth / 1e9:.0f}" if bandwidth else compare.DASH,
                f"{compute:.2f}", f"{memory:.2f}", f"{floor:.2f}", compare.format_time(kiln_time),
                compare.format_time(litert_time), compare.format_ratio(kiln_time, litert_time),
                f"{100 * floor / kiln_time:.0f} %", f"{100 * floor / (0.8 * litert_time):.0f} %"])
            print(f"  measured {name} ({runs} runs each)", file=sys.stderr, flush=True)
    print()
    compare.print_table(header, rows, ["<"] + [">"] * (len(header) - 1))
    print("Kiln reaches: floor / Kiln's time. 0.8×LiteRT needs: floor / (0.8 × LiteRT's time), the share of "
          "the floor a runtime must reach for Kiln/LiteRT ≤ 0.8 (above 100 %: out of reach on this machine).")


if __name__ == "__main__":
    main()
