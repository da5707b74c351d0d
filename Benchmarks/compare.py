"""Kiln beside LiteRT and ONNX Runtime on folders of models, in one run, as ratios.

Every runtime is driven from this Python process the same way: one inference
per call, one thread (LiteRT num_threads=1; ONNX Runtime intra- and inter-op
threads 1), the median of many calls (so each includes about a microsecond of
Python call overhead). The runtimes take turns: the calls are split into
rounds, and each round runs every runtime's share in turn, so a slow phase of a
shared machine falls on all of them alike and the ratios stay comparable. Kiln artifacts are loaded with ctypes (an artifact is a
shared library followed by a metadata trailer).

One row per model. For NAME.tflite: Kiln (the .tflite compiled by `kiln
compile`), LiteRT on it, and ONNX Runtime on NAME.onnx (its tf2onnx
conversion) beside it or in another folder given ("—" where there is none),
the ratios Kiln/LiteRT and Kiln/ORT (< 1: Kiln is faster) and the largest
absolute difference between Kiln's output and LiteRT's. A NAME.onnx with no
NAME.tflite in any folder given gets a row of its own: Kiln compiles the
.onnx and its output is compared with ONNX Runtime's (marked *).

A model is measured when it has an input file: NAME.inputs.npy (NAME.inputs.0.npy,
.1.npy, … in the model's order for several inputs), or for
NAME_int8, NAME_int8io and NAME_qdq the float model's NAME.inputs.npy, looked
for in the model's folder, then the other folders given, then INPUTS_DIR; the
first entry is used. NCHW ONNX images get the input transposed for Kiln,
whose imported models are NHWC, as a user of both would. A model that a
runtime cannot run shows "—" and the reason under the table.

Usage:
  python compare.py KILN_EXECUTABLE MODELS_DIR [RUNS] [INPUTS_DIR]
  python compare.py KILN_EXECUTABLE MODELS_DIR [MODELS_DIR ...] [--runs N] [--inputs DIR]
  python compare.py --gemm KILN_EXECUTABLE [GEMM_DIR] [--runs N]
  python compare.py --delegate KILN_EXECUTABLE MODELS_DIR [MODELS_DIR ...] [--runs N]

--delegate: the OpenCL delegate column. Each model compiled with `--delegate
opencl` is timed by `kiln bench` (in process, no Python) on the CPU alone and
on the OpenCL delegate in one run, with the largest difference between the two
outputs (`kiln run`). On PoCL (OpenCL on this machine's CPU) the column
measures the delegate's overhead, not a GPU's speed.

--gemm: single-thread matrix multiply C[M,N] = A[M,K] B[K,N], square sizes:
Kiln's float32 and int8 kernels (GEMM_DIR, default Benchmarks/Models/gemm,
holds gemm_S.tflite and gemm_S_int8.tflite from make_models.py: one
FULLY_CONNECTED layer with constant weights, the int8 one with int8
input/output) beside NumPy's matmul (OpenBLAS, OPENBLAS_NUM_THREADS=1) and
LiteRT, in GFLOP/s (GOP/s for int8; 2·M·N·K operations). Kiln and LiteRT pack
the constant B at build time; NumPy gets B as an array on each call.
"""

import os

# Before NumPy loads OpenBLAS: its matmul is the GEMM mode's single-thread reference.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import ctypes  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

DASH = "—"


def input_file(folders, name):
    """NAME.inputs.npy, or the float model's inputs for an int8 variant."""
    files = input_files(folders, name)
    return files[0] if files and len(files) == 1 else None


def input_files(folders, name):
    """[NAME.inputs.npy], or NAME.inputs.0.npy, .1.npy, … for a model with several inputs (in the model's
    order); the float model's for an int8 variant; None if there are none."""
    for folder in folders:
        for candidate in (name, name.removesuffix("_int8io"), name.removesuffix("_int8"), name.removesuffix("_qdq")):
            path = os.path.join(folder, candidate + ".inputs.npy")
            if os.path.exists(path):
                return [path]
            several = []
            while os.path.exists(numbered := os.path.join(folder, f"{candidate}.inputs.{len(several)}.npy")):
                several.append(numbered)
            if several:
                return several
    return None


def as_list(sample):
    """One input's array, or a list of arrays for a model with several, as a list."""
    return list(sample) if isinstance(sample, (list, tuple)) else [sample]


def interleaved_medians(calls, runs, rounds=10):
    """The median µs of each of `calls` (label -> function), `runs` calls each, taking turns in `rounds`."""
    for call in calls.values():
        for _ in range(min(200, runs)):
            call()
    samples = {label: [] for label in calls}
    share = max(1, runs // rounds)
    for round_ in range(rounds):
        count = runs - share * (rounds - 1) if round_ == rounds - 1 else share
        for label, call in calls.items():
            record = samples[label].append
            for _ in range(count):
                start = time.perf_counter_ns()
                call()
                record(time.perf_counter_ns() - start)
    return {label: sorted(values)[len(values) // 2] / 1000 for label, values in samples.items() if values}


def median_microseconds(call, runs):
    return interleaved_medians({"call": call}, runs, rounds=1)["call"]


def litert(path, sample):
    """LiteRT's invoke on `sample` and its output."""
    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    output_index = interpreter.get_output_details()[0]["index"]
    for detail, value in zip(interpreter.get_input_details(), as_list(sample)):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return interpreter.invoke, interpreter.get_tensor(output_index).copy()


def onnx_runtime(path, sample):
    """ONNX Runtime's run on `sample` and its first output."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feeds = {}
    for feed, value in zip(session.get_inputs(), as_list(sample)):
        shape = feed.shape
        if value.ndim == 4 and len(shape) == 4 and all(isinstance(d, int) for d in shape[1:]) \
                and list(value.shape[1:]) != list(shape[1:]) and [shape[2], shape[3], shape[1]] == list(value.shape[1:]):
            value = value.transpose(0, 3, 1, 2)  # an NHWC input for an NCHW ONNX model
        feeds[feed.name] = np.ascontiguousarray(value)
    call = lambda: session.run(None, feeds)  # noqa: E731
    return call, call()[0]


def kiln_metadata(artifact):
    """The JSON metadata trailer of a Kiln artifact (entry point, arena size, input and output signatures)."""
    # Only the trailer and the metadata are read: reading the whole file would count the artifact's
    # size twice in memory.py's peak for Kiln (the dynamic loader maps it as well).
    with open(artifact, "rb") as file:
        file.seek(-32, os.SEEK_END)
        library_size, metadata_size, _ = struct.unpack("<QQQ", file.read(24))
        file.seek(library_size)
        return json.loads(file.read(metadata_size))


def kiln(artifact, sample):
    """The artifact's entry point on `sample` and its output."""
    metadata = kiln_metadata(artifact)
    library = ctypes.CDLL(artifact)
    entry = getattr(library, metadata["entryPoint"])
    entry.restype = None
    arena = np.zeros(max(metadata["arenaByteCount"], 1) + 64, dtype=np.uint8)
    arena_address = arena.ctypes.data + (-arena.ctypes.data) % 64
    signature = metadata["outputs"][0]
    output = np.zeros(signature["shape"], dtype={"float32": np.float32, "int8": np.int8}[signature["elementType"]])
    sources = []
    for signature, value in zip(metadata["inputs"], as_list(sample)):
        if value.ndim == 4 and list(value.shape) != signature["shape"]:
            value = value.transpose(0, 2, 3, 1)  # an ONNX NCHW image, imported as NHWC
        sources.append(np.ascontiguousarray(value))
    source = sources
    inputs = (ctypes.c_void_p * len(sources))(*[value.ctypes.data for value in sources])
    outputs = (ctypes.c_void_p * 1)(output.ctypes.data)
    # Arguments converted to ctypes once, so each call pays only ctypes' dispatch.
    arguments = (ctypes.c_void_p(arena_address), inputs, outputs)
    # The buffers are passed by address: the call keeps them (and the library) alive.
    buffers = (library, arena, source, output)
    call = lambda: entry(*arguments) or buffers  # noqa: E731
    call()
    return call, output.copy()


def call_overhead(runs):
    """The median cost of calling an empty C function through ctypes, for reference."""
    libc = ctypes.CDLL(None)
    getpid = libc.getpid
    return median_microseconds(getpid, runs)


def compile_with_kiln(kiln_tool, path, directory):
    """The artifact's path, or raises RuntimeError with kiln's last line of error."""
    os.makedirs(directory, exist_ok=True)
    compiled = subprocess.run([kiln_tool, "compile", path, "-o", directory], capture_output=True, text=True)
    if compiled.returncode != 0:
        lines = (compiled.stderr.strip() or compiled.stdout.strip() or f"exit {compiled.returncode}").splitlines()
        raise RuntimeError(lines[-1][:160])
    return os.path.join(directory, os.path.splitext(os.path.basename(path))[0] + ".kiln")


def largest_difference(a, b):
    a, b = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    if a.size != b.size:
        raise ValueError(f"{a.size} vs {b.size} outputs")
    return float(np.abs(a - b).max())


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_arguments(argv):
    """KILN [DIR ...] [RUNS [INPUTS_DIR]] with --runs N, --inputs DIR, --gemm anywhere."""
    options = {"runs": None, "inputs": [], "gemm": False, "delegate": False}
    positional = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--gemm":
            options["gemm"] = True
        elif argument == "--delegate":
            options["delegate"] = True
        elif argument == "--runs":
            options["runs"] = int(next(arguments))
        elif argument == "--inputs":
            options["inputs"].append(next(arguments))
        elif argument in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        else:
            positional.append(argument)
    if not positional:
        sys.exit(__doc__)
    kiln_tool, rest = positional[0], positional[1:]
    folders = []
    for index, argument in enumerate(rest):
        if argument.isdigit():  # the original form: KILN DIR RUNS [INPUTS_DIR]
            options["runs"] = int(argument)
            options["inputs"] += rest[index + 1:]
            break
        folders.append(argument)
    return kiln_tool, folders, options


def kiln_available(kiln_tool):
    return os.path.isfile(kiln_tool) and os.access(kiln_tool, os.X_OK)


def format_time(value):
    return DASH if value is None else f"{value:.1f}" if value >= 100 else f"{value:.2f}"


def format_ratio(numerator, denominator):
    return DASH if numerator is None or denominator is None else f"{numerator / denominator:.2f}"


def format_difference(value):
    return DASH if value is None else "0" if value == 0 else f"{value:.3g}"


def print_table(header, rows, align):
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) if a == "<" else str(c).rjust(w)
                                 for c, w, a in zip(cells, widths, align)) + " |"

    print(line(header))
    print("|" + "|".join(("-" * (w + 1) + ":") if a == ">" else ("-" * (w + 2)) for w, a in zip(widths, align)) + "|")
    for row in rows:
        print(line(row))


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

def float_twin(name, names):
    """The float model of an int8 one (NAME_int8 -> NAME, ad01_int8 -> ad01_fp32, kws_ref_model -> ..._float32)."""
    for suffix in ("_int8io", "_int8", "_qdq"):
        if name.endswith(suffix):
            base = name.removesuffix(suffix)
            return next((twin for twin in (base, base + "_fp32", base + "_float32") if twin in names), None)
    return name + "_float32" if name + "_float32" in names else None


def find_models(folders):
    """(name, folder, NAME.tflite or None, NAME.onnx or None) for each model of the folders, in table order."""
    listings = {folder: sorted(os.listdir(folder)) for folder in folders}
    tflite_names = {os.path.splitext(f)[0] for files in listings.values() for f in files if f.endswith(".tflite")}
    onnx_paths = {}  # name -> NAME.onnx, the one beside NAME.tflite first
    for folder in folders:
        for file in listings[folder]:
            name, extension = os.path.splitext(file)
            if extension == ".onnx" and (name not in onnx_paths or os.path.exists(os.path.join(folder, name + ".tflite"))):
                onnx_paths[name] = os.path.join(folder, file)
    models = []  # (name, folder, NAME.tflite or None, NAME.onnx or None)
    for folder in folders:
        for file in listings[folder]:
            name, extension = os.path.splitext(file)
            if extension == ".tflite":
                models.append((name, folder, os.path.join(folder, file), onnx_paths.get(name)))
            elif extension == ".onnx" and name not in tflite_names and onnx_paths[name] == os.path.join(folder, file):
                models.append((name, folder, None, os.path.join(folder, file)))
    return models


def model_inputs(name, folder, folders, inputs_folders):
    """The model's input file: in its folder, then the other folders, then the inputs folders; None if none."""
    return input_file([folder] + [f for f in folders if f != folder] + inputs_folders, name)


def compare_models(kiln_tool, folders, runs, inputs_folders):
    runnable = kiln_available(kiln_tool)
    if runnable:
        print(f"ctypes call overhead: {call_overhead(runs):.2f} µs (in the Kiln column; LiteRT and ORT pay their own bindings' overhead)")
    notes = [] if runnable else [f"Kiln: {kiln_tool} is not an executable: no Kiln columns"]
    models = find_models(folders)

    header = ["model", "Kiln µs", "LiteRT µs", "ORT µs", "Kiln/LiteRT", "Kiln/ORT", "max abs diff Kiln vs LiteRT"]
    rows, kiln_times = [], {}
    with tempfile.TemporaryDirectory() as directory:
        for number, (name, folder, tflite, onnx) in enumerate(models):
            files = input_files([folder] + [f for f in folders if f != folder] + inputs_folders, name)
            if files is None:
                continue
            samples = [np.load(file)[:1] for file in files]
            sample = samples[0] if len(samples) == 1 else samples
            calls, outputs = {}, {}
            for label, runtime, path in (("LiteRT", litert, tflite), ("ORT", onnx_runtime, onnx)):
                if path is None:
                    continue
                try:
                    calls[label], outputs[label] = runtime(path, sample)
                except Exception as error:  # noqa: BLE001 (reported under the table)
                    notes.append(f"{name}: {label}: {str(error).strip().splitlines()[-1][:160]}")
            if runnable:
                try:
                    artifact = compile_with_kiln(kiln_tool, tflite or onnx, os.path.join(directory, str(number)))
                    calls["Kiln"], outputs["Kiln"] = kiln(artifact, sample)
                except Exception as error:  # noqa: BLE001
                    notes.append(f"{name}: Kiln: {str(error).strip()}")
            times = interleaved_medians(calls, runs)
            if "Kiln" in times:
                kiln_times[name] = times["Kiln"]
            reference = "LiteRT" if tflite else "ORT"
            difference = None
            if "Kiln" in outputs and reference in outputs:
                try:
                    difference = largest_difference(outputs["Kiln"], outputs[reference])
                except ValueError as error:
                    notes.append(f"{name}: Kiln's output vs {reference}'s: {error}")
            kiln_time = times.get("Kiln")
            rows.append([
                name + ("" if tflite else " *"), format_time(kiln_time), format_time(times.get("LiteRT")),
                format_time(times.get("ORT")), format_ratio(kiln_time, times.get("LiteRT")),
                format_ratio(kiln_time, times.get("ORT")),
                format_difference(difference) + (" *" if difference is not None and not tflite else "")])
            print(f"  measured {name} ({runs} runs each)", file=sys.stderr, flush=True)
    print()
    print_table(header, rows, ["<", ">", ">", ">", ">", ">", ">"])
    if any(not tflite for _, _, tflite, _ in models):
        print("* an .onnx without a .tflite: Kiln compiles the .onnx; the difference is Kiln vs ONNX Runtime")
    twins = [f"{name} {time_ / kiln_times[twin]:.2f}" for name, time_ in kiln_times.items()
             if (twin := float_twin(name, kiln_times)) is not None]
    if twins:
        print("Kiln int8 / float32 time: " + ", ".join(twins))
    for note in notes:
        print(note)


# --------------------------------------------------------------------------
# The OpenCL delegate
# --------------------------------------------------------------------------

def kiln_bench_median(kiln_tool, artifact, processor, runs):
    """`kiln bench`'s median µs for the artifact on `processor` ('cpu' or 'opencl'), one thread."""
    result = subprocess.run(
        [kiln_tool, "bench", artifact, "--delegate", processor, "--threads", "1", "--runs", str(runs),
         "--warmup", str(max(runs // 10, 2))], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError((result.stderr or result.stdout).strip().splitlines()[-1][:160])
    return float(result.stdout.split("median ")[1].split(" ")[0])


def kiln_run_output(kiln_tool, artifact, processor, inputs, directory):
    """The artifact's outputs for every entry of `inputs` on `processor`."""
    output = os.path.join(directory, f"out-{processor}.npy")
    result = subprocess.run(
        [kiln_tool, "run", artifact, "--delegate", processor, "--inputs", inputs, "--outputs", output],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError((result.stderr or result.stdout).strip().splitlines()[-1][:160])
    return np.load(output)


def compare_delegate(kiln_tool, folders, runs, inputs_folders):
    header = ["model", "layers on opencl", "CPU µs", "OpenCL µs", "OpenCL/CPU", "max abs diff OpenCL vs CPU"]
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as directory:
        for number, (name, folder, tflite, onnx) in enumerate(find_models(folders)):
            inputs = model_inputs(name, folder, folders, inputs_folders)
            if inputs is None:
                continue
            work = os.path.join(directory, str(number))
            try:
                os.makedirs(work)
                compiled = subprocess.run(
                    [kiln_tool, "compile", tflite or onnx, "-o", work, "--delegate", "opencl", "--all-supported-layers", "--target", "host"],
                    capture_output=True, text=True)
                if compiled.returncode != 0:
                    raise RuntimeError(compiled.stderr.strip().splitlines()[-1][:160])
                placed = compiled.stdout.split("opencl: ")[1].split(" layers")[0] if "opencl: " in compiled.stdout else "0"
                artifact = os.path.join(work, os.path.splitext(os.path.basename(tflite or onnx))[0] + ".kiln")
                sample = os.path.join(work, "sample.npy")
                first = np.load(inputs)[:1]
                if first.ndim == 4 and tflite is None:
                    first = first.transpose(0, 2, 3, 1)  # an ONNX NCHW image, imported as NHWC
                np.save(sample, np.ascontiguousarray(first))
                difference = largest_difference(
                    kiln_run_output(kiln_tool, artifact, "opencl", sample, work),
                    kiln_run_output(kiln_tool, artifact, "cpu", sample, work))
                cpu = kiln_bench_median(kiln_tool, artifact, "cpu", runs)
                opencl = kiln_bench_median(kiln_tool, artifact, "opencl", runs)
                rows.append([name, placed, format_time(cpu), format_time(opencl), format_ratio(opencl, cpu),
                             format_difference(difference)])
            except Exception as error:  # noqa: BLE001 (reported under the table)
                notes.append(f"{name}: {str(error).strip()}")
            print(f"  measured {name} on the delegate ({runs} runs each)", file=sys.stderr, flush=True)
    print()
    print_table(header, rows, ["<", ">", ">", ">", ">", ">"])
    for note in notes:
        print(note)


# --------------------------------------------------------------------------
# GEMM
# --------------------------------------------------------------------------


def gemm(kiln_tool, folder, runs):
    files = sorted((f for f in os.listdir(folder) if f.startswith("gemm_") and f.endswith(".tflite")),
                   key=lambda f: (int(f.split("_")[1].split(".")[0]), f))
    sizes = sorted({int(f.split("_")[1].split(".")[0]) for f in files})
    runnable = kiln_available(kiln_tool)
    notes = [] if runnable else [f"Kiln: {kiln_tool} is not an executable: no Kiln columns"]
    header = ["M = N = K", "NumPy f32", "LiteRT f32", "Kiln f32", "Kiln f32 / NumPy", "LiteRT int8", "Kiln int8",
              "Kiln int8 / f32", "max abs diff f32 Kiln vs LiteRT"]
    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as directory:
        for size in sizes:
            operations = 2.0 * size ** 3
            rate = lambda microseconds: operations / (microseconds * 1e3)  # noqa: E731  (GFLOP/s)
            a = rng.standard_normal((size, size)).astype(np.float32)
            b = rng.standard_normal((size, size)).astype(np.float32)
            c = np.empty((size, size), np.float32)
            calls = {"NumPy f32": lambda: np.matmul(a, b, out=c)}
            results = {}
            for variant, sample in (("f32", a), ("int8", rng.integers(-128, 128, (size, size), dtype=np.int8))):
                path = os.path.join(folder, f"gemm_{size}{'' if variant == 'f32' else '_int8'}.tflite")
                if not os.path.exists(path):
                    continue
                try:
                    calls[f"LiteRT {variant}"], results[f"LiteRT {variant} out"] = litert(path, sample)
                except Exception as error:  # noqa: BLE001
                    notes.append(f"{os.path.basename(path)}: LiteRT: {error}")
                if runnable:
                    try:
                        artifact = compile_with_kiln(kiln_tool, path, os.path.join(directory, f"{size}{variant}"))
                        calls[f"Kiln {variant}"], results[f"Kiln {variant} out"] = kiln(artifact, sample)
                    except Exception as error:  # noqa: BLE001
                        notes.append(f"{os.path.basename(path)}: Kiln: {error}")
            results.update({label: rate(microseconds) for label, microseconds in interleaved_medians(calls, runs).items()})
            numpy_rate = results["NumPy f32"]
            difference = None
            if "Kiln f32 out" in results and "LiteRT f32 out" in results:
                difference = largest_difference(results["Kiln f32 out"], results["LiteRT f32 out"])
            value = lambda key: DASH if key not in results else f"{results[key]:.1f}"  # noqa: E731
            rows.append([str(size), f"{numpy_rate:.1f}", value("LiteRT f32"), value("Kiln f32"),
                         DASH if "Kiln f32" not in results else f"{100 * results['Kiln f32'] / numpy_rate:.0f} %",
                         value("LiteRT int8"), value("Kiln int8"),
                         DASH if "Kiln int8" not in results or "Kiln f32" not in results
                         else f"{results['Kiln int8'] / results['Kiln f32']:.2f}×",
                         format_difference(difference)])
            print(f"  measured {size} ({runs} runs each)", file=sys.stderr, flush=True)
    print("GFLOP/s (float32) and GOP/s (int8), one thread, median of "
          f"{runs} calls; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print_table(header, rows, ["<"] + [">"] * (len(header) - 1))
    for note in notes:
        print(note)


def main():
    kiln_tool, folders, options = parse_arguments(sys.argv[1:])
    if options["gemm"]:
        folder = folders[0] if folders else os.path.join(os.path.dirname(os.path.abspath(__file__)), "Models", "gemm")
        gemm(kiln_tool, folder, options["runs"] or 200)
        return
    if not folders:
        sys.exit(__doc__)
    if options["delegate"]:
        compare_delegate(kiln_tool, folders, options["runs"] or 50, options["inputs"])
        return
    compare_models(kiln_tool, folders, options["runs"] or 2000, options["inputs"])


if __name__ == "__main__":
    main()
