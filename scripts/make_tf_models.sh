#!/usr/bin/env bash
# Regenerates Tests/KilnTests/Fixtures/Keras/: Keras 3 models converted by today's
# TensorFlow converter (float32 and int8), LiteRT reference outputs, ops.txt, README.md.
#
#   bash scripts/make_tf_models.sh                    # everything
#   bash scripts/make_tf_models.sh --only keras_cnn   # one model, into the same folder (no README/ops.txt)
#   bash scripts/make_tf_models.sh --onnx             # the same Keras models through tf2onnx, into
#                                                     # Tests/KilnTests/Fixtures/ONNX/tf2onnx/ (scripts/make_tf2onnx_models.py)
#
# Makes a Python 3.11 virtualenv in .venv-models/ (git-ignored) with the pinned packages
# below; needs PyPI. Not part of the build or the tests: the fixtures are committed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="$PWD/.venv-models"
PYTHON="${PYTHON:-python3.11}"

# Pinned: the versions the committed fixtures were made with (see the fixtures' README.md).
TENSORFLOW_VERSION=2.21.0
KERAS_VERSION=3.15.1
NUMPY_VERSION=2.4.6
AI_EDGE_LITERT_VERSION=2.3.0
TF2ONNX_VERSION=1.17.0
ONNX_VERSION=1.23.2
ONNXRUNTIME_VERSION=1.32.0
SYMPY_VERSION=1.14.0
PIP_VERSION=26.3

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "make_tf_models: $PYTHON not found (Python 3.11 is required; set PYTHON=... to use another)" >&2
    exit 1
fi

venv_ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }

if ! venv_ok; then
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" || ! venv_ok; then
        # Debian's python3.11 has no ensurepip until python3-venv (python3.11-venv) is installed.
        echo "make_tf_models: venv creation failed; installing python3-venv"
        rm -rf "$VENV"
        if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv "$VENV"
    fi
fi

"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip==$PIP_VERSION"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "tensorflow==$TENSORFLOW_VERSION" \
    "keras==$KERAS_VERSION" \
    "numpy==$NUMPY_VERSION" \
    "ai-edge-litert==$AI_EDGE_LITERT_VERSION"

if [[ ${1:-} == --onnx ]]; then
    # Only the tf2onnx fixtures need these.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "tf2onnx==$TF2ONNX_VERSION" "onnx==$ONNX_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" "sympy==$SYMPY_VERSION"
    cd scripts
    exec "$VENV/bin/python" make_tf2onnx_models.py
fi

exec "$VENV/bin/python" scripts/make_tf_models.py "$@"
