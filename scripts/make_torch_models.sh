#!/usr/bin/env bash
# Regenerates Tests/KilnTests/Fixtures/ONNX/pytorch/: a PyTorch recurrent model (nn.GRU → bidirectional
# nn.LSTM → nn.Linear, batch-first) and a CIFAR ResNet-8 exported to ONNX by both of torch.onnx.export's
# exporters (TorchScript and dynamo), PyTorch's own outputs, and README.md.
#
#   bash scripts/make_torch_models.sh
#
# Makes a virtualenv in .venv-torch/ (git-ignored) with the pinned packages below; needs PyPI (PyPI's torch
# wheel is the CUDA build, several GB; the CPU runs it). Not part of the build or the tests: the fixtures are
# committed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="$PWD/.venv-torch"

# Pinned: the versions the committed fixtures were made with.
TORCH_VERSION=2.15.0
ONNX_VERSION=1.23.2
ONNXSCRIPT_VERSION=0.7.2
NUMPY_VERSION=2.4.6

source scripts/fixture_venv.sh
fixture_venv "$VENV" "torch==$TORCH_VERSION" "onnx==$ONNX_VERSION" "onnxscript==$ONNXSCRIPT_VERSION" "numpy==$NUMPY_VERSION"

exec "$VENV/bin/python" scripts/make_torch_models.py "$@"
