#!/usr/bin/env bash
# The benchmark harness (issue 9, item 7), in one command:
#   1. makes or refreshes the models virtualenv .venv-models/ (scripts/models_venv.sh: TensorFlow, Keras,
#      LiteRT, tf2onnx, ONNX, ONNX Runtime, pinned; needs PyPI the first time),
#   2. builds the benchmark models into Benchmarks/Models/ (git-ignored; Benchmarks/make_models.py keeps
#      files that exist): MobileNetV2 1.0 224, ResNet-8 (MLPerf Tiny, CIFAR-10), MobileNetV1 0.25 96, float32
#      and int8 .tflite, their tf2onnx .onnx, tf2onnx versions of ../shared/models' .tflite files, GEMM models,
#   3. builds the release kiln,
#   4. prints one table: per model, Kiln, LiteRT and ONNX Runtime median µs (one thread), the ratios and
#      Kiln's largest output difference from LiteRT (Benchmarks/compare.py, run in .venv), then the memory
#      table: per model, Kiln's arena bytes beside LiteRT's and each runtime's resident memory for the model,
#      each runtime in a fresh process (Benchmarks/memory.py), then the threads table: Kiln and LiteRT at one
#      and two threads (Benchmarks/threads.py; Kiln through `kiln bench --threads`), then the GEMM table.
#
#   bash Benchmarks/run.sh
#   RUNS=500 GEMM_RUNS=50 bash Benchmarks/run.sh    # fewer timed calls (defaults 2000 and 200; THREAD_RUNS 500)
#   FORCE=1 bash Benchmarks/run.sh                  # rebuild every benchmark model
#   KILN=/path/to/kiln bash Benchmarks/run.sh       # use that kiln; no swift build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODELS_VENV_WHO=run.sh
source scripts/models_venv.sh  # VENV, models_venv, models_venv_onnx
models_venv
models_venv_onnx

"$VENV/bin/python" Benchmarks/make_models.py ${FORCE:+--force}

if [ -z "${KILN:-}" ]; then
    source scripts/setup.sh
    swift build -c release --product kiln
    KILN=.build/release/kiln
fi

# compare.py's own environment, as Benchmarks/compare.sh makes it.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q "ai-edge-litert==$AI_EDGE_LITERT_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" \
    "numpy==$NUMPY_VERSION"

if [ -d ../shared/models ]; then
    folders=(../shared/models Benchmarks/Models)
else
    echo "run.sh: ../shared/models is absent: no KWS/AD rows" >&2
    folders=(Benchmarks/Models)
fi
echo
echo "# bash Benchmarks/run.sh  ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
.venv/bin/python Benchmarks/compare.py "$KILN" "${folders[@]}" --runs "${RUNS:-2000}"
echo
echo "## Memory: arena bytes and resident memory per model (Kiln, LiteRT, ONNX Runtime; a fresh process each)"
.venv/bin/python Benchmarks/memory.py "$KILN" "${folders[@]}"
echo
echo "## Threads: Kiln and LiteRT at 1 and 2 threads"
.venv/bin/python Benchmarks/threads.py "$KILN" "${folders[@]}" --threads 2 --runs "${THREAD_RUNS:-500}"
echo
.venv/bin/python Benchmarks/compare.py --gemm "$KILN" Benchmarks/Models/gemm --runs "${GEMM_RUNS:-200}"
