"""Memory per model, side by side: Kiln, LiteRT and ONNX Runtime, each in a fresh process.

The models are compare.py's model table (the same folders, discovery, names and
input files; compare.find_models and compare.model_inputs), and every runtime is
set up by compare.py's own functions (compare.kiln, compare.litert,
compare.onnx_runtime: one thread, one inference), so this table and the timing
table describe the same runs.

One row per model:

Arena bytes. Kiln: the artifact's `arenaByteCount` (its metadata trailer), the
one scratch buffer the caller allocates; the model's inputs and outputs are
separate buffers. LiteRT: the extent of its non-persistent arena (the one block
of allocation type kTfLiteArenaRw, where the planner places intermediate tensors
and kernels' scratch tensors such as im2col buffers, reusing memory between
tensors whose lifetimes do not overlap), measured on an interpreter built
without default delegates (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES) so
that every intermediate tensor is in that arena: with XNNPACK, the delegated
part's intermediates live in XNNPACK's own workspace, which Python cannot see.
After allocate_tensors and one invoke, each tensor's TfLiteTensor (data pointer,
allocation type, byte count, name) is read from the primary subgraph's
TfLiteContext, which the interpreter's first member points to (read through
/proc/self/mem, so a wrong guess reads nothing rather than crashing, and the
table is used only if every tensor's data pointer, byte count and name match
what the Python API reports). The arena figure is max(data + bytes) -
min(data) over the kTfLiteArenaRw tensors that are not model inputs or outputs:
intermediates and scratch. Constants (kTfLiteMmapRo, in the model file),
tensors computed once at preparation (kTfLitePersistentRo, e.g. a Shape op's
output) and the persistent arena (kTfLiteArenaRwPersistent) are not counted.
Caveats: LiteRT places the model's inputs and outputs in the same arena, so the
extent may include an input or output that lies between intermediates (the
table's footnote gives the whole arena with them); only the primary subgraph
is read (control-flow subgraphs have arenas of their own); the layout read is
that of TfLiteTensor and TfLiteContext on a 64-bit build (common.h), and a
LiteRT whose layout differs gives "—" and a note rather than a wrong number.
`python memory.py --spans MODEL.tflite` prints every arena tensor's offset and
size, to check the method on a model. ONNX Runtime reports no arena figure.

Resident memory. For each runtime, a new Python process imports NumPy, the
runtime's library (compare.py, which imports LiteRT; onnxruntime too for ONNX
Runtime; ctypes for Kiln) and loads the input sample, then reads VmRSS from
/proc/self/status (the baseline) and resets the peak (VmHWM, by writing 5 to
/proc/self/clear_refs); then loads the model, allocates, runs one inference,
and reads VmRSS, RssAnon and VmHWM again. The columns are the RSS differences,
in KiB: the resident memory the model costs that runtime, with its anonymous
part (heap, arenas, packed weights) in parentheses; the rest is file-backed
pages touched for the first time: the mapped model or artifact, and the
runtime library's code that the model runs. The peak (VmHWM minus the baseline)
is summarised under the table. Kiln: ctypes loads the artifact (a shared
library: weights in its read-only data, mapped from the file), NumPy allocates
the arena with np.zeros and the output, one call. np.zeros gets fresh zero
pages that the kernel maps on first touch, so the delta counts the arena pages
the run writes, not the arena's nominal size; LiteRT's and ONNX Runtime's
arenas, malloc'd blocks, are counted the same way. LiteRT:
Interpreter(model_path, num_threads=1) with its default XNNPACK delegate, as the
timing table runs it (the model file is mapped; XNNPACK packs weights into
buffers of its own), allocate_tensors, set the input, invoke. ONNX Runtime: an
InferenceSession on the model's .onnx twin (intra- and inter-op threads 1, CPU
provider with its default memory arena), one run. Each runtime's figures are
those of the process with the median RSS delta of --repeats processes (default
3). RSS is counted in 4 KiB pages; repeated
processes differ by a few pages for Kiln and LiteRT and by about 100 KiB for
ONNX Runtime (library pages), so small models' figures are coarse. Linux only
(procfs).

A model that a runtime cannot run or measure shows "—" and the reason under
the table.

Usage:
  python memory.py KILN_EXECUTABLE MODELS_DIR [MODELS_DIR ...] [--inputs DIR] [--repeats N]
  python memory.py --spans MODEL.tflite
  python memory.py --measure {kiln,litert,ort,litert-arena} MODEL_OR_ARTIFACT INPUTS.npy   (one measurement, as JSON)
"""

import gc
import json
import os
import re
import shlex
import struct
import subprocess
import sys
import tempfile
from importlib import metadata

import compare  # before NumPy: it sets the BLAS thread variables
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

DASH = compare.DASH

# TfLiteAllocationType (tensorflow/lite/core/c/common.h)
MMAP_RO, ARENA_RW, ARENA_RW_PERSISTENT, DYNAMIC, PERSISTENT_RO = 1, 2, 3, 4, 5
# sizeof(TfLiteTensor) on a 64-bit build, and its first fields: type, data, dims, quantization params
# (scale, zero point), allocation_type, bytes, allocation, name.
TENSOR_SIZE = 112
TENSOR_FIELDS = struct.Struct("<i4xQQfii4xQQQ")


# --------------------------------------------------------------------------
# Measurements (each in a process of its own)
# --------------------------------------------------------------------------


def resident():
    """VmRSS, VmHWM, RssAnon and RssFile of this process, in KiB."""
    with open("/proc/self/status") as status:
        return {key: int(value) for key, value in re.findall(r"^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB", status.read(), re.MULTILINE)}


def reset_peak():
    """Makes VmHWM the current VmRSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def measure_resident(runtime, path, inputs):
    """The RSS and peak deltas (KiB) of loading `path` in `runtime` and running it once on the inputs' first sample."""
    if runtime == "ort":
        import onnxruntime  # noqa: F401  (in the baseline, as LiteRT's library is)
    run = {"kiln": compare.kiln, "litert": compare.litert, "ort": compare.onnx_runtime}[runtime]
    sample = np.load(inputs)[:1]
    gc.collect()
    before = resident()
    peak = reset_peak()
    kept = run(path, sample)  # (call, output): the call keeps the model, its buffers and the library alive
    after = resident()
    del kept
    return {"rss": after["VmRSS"] - before["VmRSS"], "peak": after["VmHWM"] - before["VmRSS"] if peak else None,
            "anon": after["RssAnon"] - before["RssAnon"], "file": after["RssFile"] - before["RssFile"]}


def tensor_table(interpreter):
    """Each tensor of the primary subgraph as (index, data address, allocation type, bytes, name).

    Read from the TfLiteContext that the C++ interpreter's first member points to (tensors_size,
    GetExecutionPlan, tensors), checked against the Python API's view of every tensor.
    """
    count = interpreter._interpreter.NumTensors(0)
    memory = os.open("/proc/self/mem", os.O_RDONLY)

    def read(address, size):
        try:
            data = os.pread(memory, size, address) if address else b""
        except (OSError, OverflowError):
            return None
        return data if len(data) == size else None

    try:
        native = read(interpreter._interpreter.interpreter(), 16 * 8)
        for word in struct.unpack("<16Q", native) if native else ():
            context = read(word, 24)
            if context is None:
                continue
            tensors_size, _, tensors = struct.unpack("<3Q", context)
            if tensors_size != count:
                continue
            array = read(tensors, TENSOR_SIZE * count)
            if array is None:
                continue
            table = []
            for index in range(count):
                type_, data, _, _, _, allocation, size, _, name = TENSOR_FIELDS.unpack_from(array, TENSOR_SIZE * index)
                table.append((index, data, allocation, size, name, type_))
            if all(tensor_matches(interpreter, read, *row) for row in table):
                return [(index, data, allocation, size, interpreter._interpreter.TensorName(index, 0) if type_ else "")
                        for index, data, allocation, size, _, type_ in table]
    finally:
        os.close(memory)
    raise RuntimeError("LiteRT's tensor table not found (TfLiteTensor layout not recognised)")


def tensor_matches(interpreter, read, index, data, allocation, size, name, type_):
    """Whether a TfLiteTensor read from memory (`read(address, size)`) is the interpreter's tensor `index`."""
    if type_ == 0 and data == 0 and size == 0:  # an unused slot of the tensor vector
        return True
    expected = interpreter._interpreter.TensorName(index, 0).encode()
    if (read(name, len(expected) + 1) if name else b"") != (expected + b"\0" if name else expected) \
            or not 0 <= allocation <= 7:
        return False
    if data == 0 or size == 0 or allocation not in (MMAP_RO, ARENA_RW):
        return True
    array = interpreter.tensor(index)()
    if array.ndim == 0:  # the wrapper gives a scalar tensor as a copy
        return array.nbytes == size
    return array.__array_interface__["data"][0] == data and array.nbytes == size


def litert_arena_interpreter(path, inputs):
    """An interpreter without default delegates, allocated and run once on the inputs' first sample."""
    interpreter = Interpreter(model_path=path, num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.load(inputs)[:1])
    interpreter.invoke()
    return interpreter


def extent(tensors):
    """max(end) - min(start) of (address, bytes) pairs; 0 for none."""
    return max(a + n for a, n in tensors) - min(a for a, _ in tensors) if tensors else 0


def measure_litert_arena(path, inputs):
    """LiteRT's non-persistent arena: extent of the intermediate and scratch tensors, and of all with the model's I/O."""
    interpreter = litert_arena_interpreter(path, inputs)
    table = tensor_table(interpreter)
    boundary = {d["index"] for d in interpreter.get_input_details() + interpreter.get_output_details()}
    arena = [(index, data, size) for index, data, allocation, size, _ in table if allocation == ARENA_RW and data and size]
    inner = [(data, size) for index, data, size in arena if index not in boundary]
    return {"arena": extent(inner), "arena_with_io": extent([(data, size) for _, data, size in arena]),
            "io": sum(size for index, _, size in arena if index in boundary),
            "persistent": sum(size for _, data, allocation, size, _ in table if allocation == ARENA_RW_PERSISTENT and data),
            "subgraphs": interpreter.num_subgraphs()}


def print_spans(path):
    """Every arena tensor of the model in LiteRT's non-persistent arena, by address, and the two extents."""
    inputs = compare.input_file([os.path.dirname(path) or "."], os.path.splitext(os.path.basename(path))[0])
    if inputs is None:
        sys.exit(f"{path}: no input file beside it")
    interpreter = litert_arena_interpreter(path, inputs)
    table = tensor_table(interpreter)
    roles = {d["index"]: "input" for d in interpreter.get_input_details()}
    roles.update({d["index"]: "output" for d in interpreter.get_output_details()})
    outputs = {index for op in interpreter._get_ops_details() for index in op["outputs"]}
    kinds = {0: "none (unused slot)", MMAP_RO: "constant", ARENA_RW: "arena", ARENA_RW_PERSISTENT: "persistent arena",
             DYNAMIC: "dynamic", PERSISTENT_RO: "persistent (computed at preparation)"}
    arena = sorted((data, index, size, name) for index, data, allocation, size, name in table
                   if allocation == ARENA_RW and data and size)
    base = arena[0][0] if arena else 0
    print(f"{path}: {len(table)} tensors; by allocation type: " + ", ".join(
        f"{kinds.get(kind, kind)} {sum(1 for row in table if row[2] == kind)}" for kind in sorted({row[2] for row in table})))
    print(f"{'offset':>10} {'bytes':>10}  {'tensor':>6}  role          name")
    for data, index, size, name in arena:
        role = roles.get(index, "intermediate" if index in outputs else "scratch")
        print(f"{data - base:>10} {size:>10}  {index:>6}  {role:<12}  {name[:70]}")
    result = measure_litert_arena(path, inputs)
    print(f"arena extent without the model's inputs and outputs: {result['arena']} bytes; "
          f"with them: {result['arena_with_io']} bytes")


def measure(arguments):
    """--measure RUNTIME PATH INPUTS: one measurement, printed as one line of JSON."""
    runtime, path, inputs = arguments
    result = measure_litert_arena(path, inputs) if runtime == "litert-arena" else measure_resident(runtime, path, inputs)
    print(json.dumps(result))


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------


def in_fresh_process(runtime, path, inputs, repeats):
    """The figures of the process with the median first figure (RSS Δ or arena) of `repeats` fresh processes.

    Raises RuntimeError with the reason where a process fails.
    """
    results = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", runtime, path, inputs],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = (done.stderr.strip() or done.stdout.strip() or "").splitlines()
            reason = lines[-1][:160] if lines else f"exit {done.returncode}"
            raise RuntimeError(f"killed by signal {-done.returncode}" if done.returncode < 0 else reason)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return sorted(results, key=lambda result: next(iter(result.values())))[(len(results) - 1) // 2]


def format_count(value):
    return DASH if value is None else f"{value:,}"


def parse_arguments(argv):
    """KILN DIR [DIR ...] with --inputs DIR and --repeats N anywhere."""
    options = {"inputs": [], "repeats": 3}
    positional = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--inputs":
            options["inputs"].append(next(arguments))
        elif argument == "--repeats":
            options["repeats"] = max(1, int(next(arguments)))
        elif argument in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        else:
            positional.append(argument)
    if len(positional) < 2:
        sys.exit(__doc__)
    return positional[0], positional[1:], options


def command_line():
    executable = os.path.relpath(sys.executable)
    return shlex.join([sys.executable if executable.startswith("..") else executable] + sys.argv)


def memory_table(kiln_tool, folders, inputs_folders, repeats):
    print(f"# {command_line()}")
    versions = ", ".join(f"{package} {metadata.version(package)}" for package in ("ai-edge-litert", "onnxruntime", "numpy"))
    print(f"Memory per model, each runtime in a fresh process ({versions}; median of {repeats} processes)")
    runnable = compare.kiln_available(kiln_tool)
    notes = [] if runnable else [f"Kiln: {kiln_tool} is not an executable: no Kiln columns"]
    header = ["model", "Kiln arena B", "LiteRT arena B", "Kiln/LiteRT arena", "Kiln RSS Δ KiB (anon)",
              "LiteRT RSS Δ KiB (anon)", "ORT RSS Δ KiB (anon)"]
    rows, smaller, compared, with_io, peaks = [], [], [], [], []
    with tempfile.TemporaryDirectory() as directory:
        for number, (name, folder, tflite, onnx) in enumerate(compare.find_models(folders)):
            inputs = compare.model_inputs(name, folder, folders, inputs_folders)
            if inputs is None:
                continue
            figures = {}
            jobs = [("LiteRT", "litert", tflite), ("LiteRT arena", "litert-arena", tflite), ("ORT", "ort", onnx)]
            if runnable:
                try:
                    artifact = compare.compile_with_kiln(kiln_tool, tflite or onnx, os.path.join(directory, str(number)))
                    figures["Kiln arena"] = {"arena": compare.kiln_metadata(artifact)["arenaByteCount"]}
                    jobs.insert(0, ("Kiln", "kiln", artifact))
                except Exception as error:  # noqa: BLE001 (reported under the table)
                    notes.append(f"{name}: Kiln: {str(error).strip()}")
            for label, runtime, path in jobs:
                if path is None:
                    continue
                try:
                    figures[label] = in_fresh_process(runtime, path, inputs, repeats)
                except Exception as error:  # noqa: BLE001
                    notes.append(f"{name}: {label}: {str(error).strip()}")
            kiln_arena = figures.get("Kiln arena", {}).get("arena")
            litert_arena = figures.get("LiteRT arena", {}).get("arena")
            if kiln_arena is not None and litert_arena:
                compared.append(name)
                if kiln_arena <= litert_arena:
                    smaller.append(name)
            if "LiteRT arena" in figures:
                litert = figures["LiteRT arena"]
                with_io.append(f"{name} {litert['arena_with_io']:,}")
                if litert["persistent"]:
                    notes.append(f"{name}: LiteRT: {litert['persistent']:,} B more in its persistent arena (not counted)")
                if litert["subgraphs"] > 1:
                    notes.append(f"{name}: LiteRT: {litert['subgraphs']} subgraphs; only the primary one's arena is counted")
            resident = [figures.get(label) for label in ("Kiln", "LiteRT", "ORT")]
            peaks += [(f"{name} {label}", r["peak"] - r["rss"] if r["peak"] is not None else None)
                      for label, r in zip(("Kiln", "LiteRT", "ORT"), resident, strict=True) if r is not None]
            rows.append([name + ("" if tflite else " *"), format_count(kiln_arena), format_count(litert_arena),
                         compare.format_ratio(kiln_arena, litert_arena or None),
                         *(DASH if r is None else f"{r['rss']:,} ({r['anon']:,})" for r in resident)])
            print(f"  measured {name}", file=sys.stderr, flush=True)
    print()
    compare.print_table(header, rows, ["<"] + [">"] * (len(header) - 1))
    if any(row[0].endswith(" *") for row in rows):
        print("* an .onnx without a .tflite: Kiln compiles the .onnx; no LiteRT columns")
    if compared:
        larger = [name for name in compared if name not in smaller]
        print(f"Kiln arena ≤ LiteRT arena on {len(smaller)} of {len(compared)} models"
              + (f" (larger: {', '.join(larger)})" if larger else ""))
    print("LiteRT arena: intermediate and scratch tensors of LiteRT's non-persistent arena, without default delegates; "
          "Kiln arena: arenaByteCount. Both exclude the model's inputs and outputs.")
    if with_io:
        print("LiteRT arena with the model's inputs and outputs, B: " + ", ".join(with_io))
    print("RSS Δ: resident memory after loading, allocating and one inference, minus before (LiteRT with its default "
          "XNNPACK delegate, as timed in the model table); (anon): its anonymous part, the rest being file-backed "
          "pages (the mapped model or artifact, and library code run for the first time).")
    if peaks and all(excess is not None for _, excess in peaks):
        above = [f"{label} +{excess:,} KiB" for label, excess in peaks if excess > 256]
        within = [excess for _, excess in peaks if excess <= 256]
        same = (f"within {max(within):,} KiB of RSS Δ" if max(within, default=0) else "equal to RSS Δ") if within else ""
        print("Peak during loading and the run (VmHWM minus the baseline): " + same
              + (" except: " if within and above else "") + ", ".join(above))
    elif peaks:
        print("Peak: /proc/self/clear_refs could not reset VmHWM here, so no peak figures")
    for note in notes:
        print(note)


def main():
    if sys.argv[1:2] == ["--measure"]:
        measure(sys.argv[2:])
    elif sys.argv[1:2] == ["--spans"]:
        for path in sys.argv[2:]:
            print_spans(path)
    else:
        kiln_tool, folders, options = parse_arguments(sys.argv[1:])
        memory_table(kiln_tool, folders, options["inputs"], options["repeats"])


if __name__ == "__main__":
    main()
