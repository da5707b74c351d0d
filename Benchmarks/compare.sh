#!/usr/bin/env bash
# Benchmarks Kiln beside LiteRT (.tflite) and ONNX Runtime (.onnx) in one run (see compare.py):
# ../shared/models by default, or MODELS=folder (Tests/KilnTests/Fixtures/Keras holds models exported by
# TensorFlow 2.21, Tests/KilnTests/Fixtures/ONNX NCHW ONNX models, ONNX/tf2onnx the Keras ones through
# tf2onnx, with INPUTS=Tests/KilnTests/Fixtures/Keras for their inputs).
# Installs LiteRT and ONNX Runtime into .venv (PyPI) and builds the kiln tool in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q "ai-edge-litert==2.3.0" "onnxruntime==1.32.0" numpy
swift build -c release --product kiln
.venv/bin/python Benchmarks/compare.py .build/release/kiln "${MODELS:-../shared/models}" "${RUNS:-2000}" ${INPUTS:+"$INPUTS"}
