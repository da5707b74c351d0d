#!/usr/bin/env bash
# Benchmarks Kiln beside LiteRT in one run (see compare.py): ../shared/models by default, or MODELS=folder
# (Tests/KilnTests/Fixtures/Keras holds models exported by TensorFlow 2.21).
# Installs LiteRT into .venv (PyPI) and builds the kiln tool in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q "ai-edge-litert==2.3.0" numpy
swift build -c release --product kiln
.venv/bin/python Benchmarks/compare.py .build/release/kiln "${MODELS:-../shared/models}" "${RUNS:-2000}"
