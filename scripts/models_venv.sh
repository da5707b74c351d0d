# Sourced (not run) by scripts/make_tf_models.sh and Benchmarks/run.sh: the models virtualenv.
#
#   source scripts/models_venv.sh
#   models_venv          # makes .venv-models/ (Python 3.11, git-ignored) if missing or broken, and installs
#                        # the pinned TensorFlow, Keras (3 and tf_keras), NumPy and LiteRT (needs PyPI)
#   models_venv_onnx     # adds the pinned tf2onnx, onnx, onnxruntime and sympy
#
# Sets VENV (the virtualenv's folder) and PYTHON (the interpreter it is made with; python3.11
# unless PYTHON is set). Messages start with $MODELS_VENV_WHO (default: models_venv).

VENV="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv-models"
PYTHON="${PYTHON:-python3.11}"

# Pinned: the versions the committed fixtures were made with (see the fixtures' README.md).
TENSORFLOW_VERSION=2.21.0
KERAS_VERSION=3.15.1
TF_KERAS_VERSION=2.21.0
NUMPY_VERSION=2.4.6
AI_EDGE_LITERT_VERSION=2.3.0
TF2ONNX_VERSION=1.17.0
ONNX_VERSION=1.23.2
ONNXRUNTIME_VERSION=1.32.0
SYMPY_VERSION=1.14.0
PIP_VERSION=26.3

venv_ok() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }

models_venv() {
    local who="${MODELS_VENV_WHO:-models_venv}" sudo
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "$who: $PYTHON not found (Python 3.11 is required; set PYTHON=... to use another)" >&2
        exit 1
    fi

    if ! venv_ok; then
        rm -rf "$VENV"
        if ! "$PYTHON" -m venv "$VENV" || ! venv_ok; then
            # Debian's python3.11 has no ensurepip until python3-venv (python3.11-venv) is installed.
            echo "$who: venv creation failed; installing python3-venv"
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
        "tf_keras==$TF_KERAS_VERSION" \
        "numpy==$NUMPY_VERSION" \
        "ai-edge-litert==$AI_EDGE_LITERT_VERSION"
}

models_venv_onnx() {
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "tf2onnx==$TF2ONNX_VERSION" "onnx==$ONNX_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" "sympy==$SYMPY_VERSION"
}
