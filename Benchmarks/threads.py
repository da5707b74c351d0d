"""Kiln and LiteRT on one and on N threads, per model, in one run.

Kiln: `kiln bench ARTIFACT --threads T` (the artifact as `kiln compile` makes it; its layers split
among threads go to the runtime's thread pool; the median of the timed runs, measured in Swift).
LiteRT: the Interpreter with num_threads=T, the median of as many invoke() calls from Python, on
the same inputs (each call pays about a microsecond of Python overhead that Kiln's does not, so
the ratios slightly favour Kiln on the smallest models). One row per .tflite model of the folders
(as compare.py finds them): both runtimes at 1 and T threads, Kiln's speed-up T/1 and the ratio
Kiln/LiteRT at T threads (< 1: Kiln is faster).

Usage:
  python threads.py KILN_EXECUTABLE MODELS_DIR [MODELS_DIR ...] [--threads T] [--runs N]
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

import compare

DASH = compare.DASH


def kiln_median(kiln_tool, artifact, threads, runs):
    """`kiln bench`'s median µs at `threads` threads."""
    result = subprocess.run(
        [kiln_tool, "bench", artifact, "--runs", str(runs), "--warmup", str(max(runs // 10, 5)), "--threads", str(threads)],
        capture_output=True, text=True)
    match = re.search(r"median ([0-9.]+) µs", result.stdout)
    if result.returncode != 0 or not match:
        raise RuntimeError((result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}").splitlines()[-1][:160])
    return float(match.group(1))


def litert_median(path, sample, threads, runs):
    """LiteRT's median µs per invoke() at `threads` threads (default delegates, as users run it)."""
    interpreter = compare.Interpreter(model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    data = sample
    if detail["dtype"] != np.float32:
        scale, zero_point = detail["quantization"]
        data = np.clip(np.round(sample / scale) + zero_point, -128, 127).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], np.ascontiguousarray(data.reshape(detail["shape"])))
    for _ in range(max(runs // 10, 5)):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kiln")
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    threads = args.threads
    print(f"# python Benchmarks/threads.py {args.kiln} {' '.join(args.folders)} --threads {threads} --runs {args.runs}")
    header = ["model", "Kiln 1T µs", f"Kiln {threads}T µs", f"Kiln {threads}T/1T", "LiteRT 1T µs", f"LiteRT {threads}T µs",
              f"Kiln/LiteRT {threads}T"]
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as directory:
        for name, folder, tflite, _ in compare.find_models(args.folders):
            inputs = compare.model_inputs(name, folder, args.folders, [])
            if tflite is None or inputs is None:
                continue
            sample = np.load(inputs)[:1].astype(np.float32)
            # Large models get fewer runs: their medians settle sooner than a small model's.
            runs = max(20, args.runs // 10) if sample.size > 100_000 else args.runs
            try:
                artifact = compare.compile_with_kiln(args.kiln, tflite, directory)
                kiln = [kiln_median(args.kiln, artifact, t, runs) for t in (1, threads)]
            except RuntimeError as error:
                kiln = None
                notes.append(f"{name}: Kiln: {error}")
            litert = [litert_median(tflite, sample, t, runs) for t in (1, threads)]
            rows.append([
                name,
                *(compare.format_time(value) for value in (kiln or [None, None])),
                f"{kiln[1] / kiln[0]:.2f}" if kiln else DASH,
                *(compare.format_time(value) for value in litert),
                f"{kiln[1] / litert[1]:.2f}" if kiln else DASH,
            ])
            sys.stdout.flush()
    compare.print_table(header, rows, align=["<"] + [">"] * (len(header) - 1))
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
