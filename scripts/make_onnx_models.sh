#!/usr/bin/env bash
# Regenerates Tests/KilnTests/Fixtures/ONNX/: NCHW models built with the `onnx` helper API
# (as PyTorch and tf2onnx write them: Conv/BatchNormalization/Relu/pooling/Gemm, residual,
# depthwise, transformer-style, decoder, multi-output reductions, LSTM/GRU/RNN) with ONNX Runtime's outputs,
# and README.md.
#
#   bash scripts/make_onnx_models.sh
#
# Makes a virtualenv in .venv-onnx/ (git-ignored) with the pinned packages below; needs
# PyPI. Not part of the build or the tests: the fixtures are committed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="$PWD/.venv-onnx"

# Pinned: the versions the committed fixtures were made with.
ONNX_VERSION=1.23.2
ONNXRUNTIME_VERSION=1.32.0
NUMPY_VERSION=2.4.6
SYMPY_VERSION=1.14.0  # quant_pre_process's symbolic shape inference

source scripts/fixture_venv.sh
fixture_venv "$VENV" "onnx==$ONNX_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" "numpy==$NUMPY_VERSION" "sympy==$SYMPY_VERSION"

exec "$VENV/bin/python" scripts/make_onnx_models.py "$@"
