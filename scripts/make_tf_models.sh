#!/usr/bin/env bash
# Regenerates Tests/KilnTests/Fixtures/Keras/: Keras 3 models (and lstm_fused, a tf_keras model whose
# LSTMs fuse) converted by today's TensorFlow converter (float32 and int8), LiteRT reference outputs,
# ops.txt, README.md.
#
#   bash scripts/make_tf_models.sh                    # everything
#   bash scripts/make_tf_models.sh --only keras_cnn   # one model, into the same folder (no README/ops.txt)
#   bash scripts/make_tf_models.sh --onnx             # the same Keras models through tf2onnx, into
#                                                     # Tests/KilnTests/Fixtures/ONNX/tf2onnx/ (scripts/make_tf2onnx_models.py)
#   bash scripts/make_tf_models.sh --onnx --only transformer_block   # one of those (no README)
#
# Makes a Python 3.11 virtualenv in .venv-models/ (git-ignored) with the pinned packages
# of scripts/models_venv.sh; needs PyPI. Not part of the build or the tests: the fixtures are committed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
MODELS_VENV_WHO=make_tf_models
source scripts/models_venv.sh  # VENV, PYTHON, the pinned versions, models_venv, models_venv_onnx
models_venv

if [[ ${1:-} == --onnx ]]; then
    shift
    models_venv_onnx  # only the tf2onnx fixtures need these
    cd scripts
    exec "$VENV/bin/python" make_tf2onnx_models.py "$@"
fi

exec "$VENV/bin/python" scripts/make_tf_models.py "$@"
