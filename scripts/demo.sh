#!/usr/bin/env bash
# Sets up a fresh machine, builds the Digits example (its models are compiled
# to native code by KilnPlugin during the build) and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build --package-path Examples/Digits --scratch-path .build-examples -c release
.build-examples/release/Digits
