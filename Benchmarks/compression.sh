#!/usr/bin/env bash
# What pruning and weight sharing do to speed and size, per model, in one run: for each model, the
# dense float32 build and each compression (blocks of 16 output units at 50/75/90 %, 2:4 and 1:4, unstructured
# 90 % per unit, 16/8 shared values, and 75 % blocks with the other layers shared), the weight bytes the kernels
# store (`kiln inspect`'s total) and the median single-thread latency (`kiln bench`), each also as a
# ratio to dense. Accuracy is Benchmarks/accuracy.sh's job; these are speed and bytes only.
#
#   bash Benchmarks/compression.sh
#   MODELS="Benchmarks/Models/mobilenet_v2.tflite" RUNS=300 TARGET=x86-64-v3 bash Benchmarks/compression.sh
#
# Default models: MobileNetV2 and ResNet-8 (Benchmarks/make_models.py makes them; missing ones are
# skipped) and the MLPerf Tiny autoencoder (../shared/models/ad01_fp32.tflite, fully connected).
set -euo pipefail
cd "$(dirname "$0")/.."
KILN=${KILN:-.build/release/kiln}
[ -x "$KILN" ] || { source scripts/setup.sh; swift build -c release --product kiln; }
MODELS=${MODELS:-"Benchmarks/Models/mobilenet_v2.tflite Benchmarks/Models/resnet8.tflite ../shared/models/ad01_fp32.tflite"}
RUNS=${RUNS:-500}
TARGET=${TARGET:-host}
VARIANTS=(
    ""
    "--prune 0.5 --prune-method block"
    "--prune 0.75 --prune-method block"
    "--prune 0.9 --prune-method block"
    "--prune-method 2:4"
    "--prune-method 1:4"
    "--prune 0.9 --prune-scope unit"
    "--share-weights 16"
    "--share-weights 8"
    "--prune 0.75 --prune-method block --share-weights 16"
)
echo "# $KILN, target $TARGET, $RUNS runs, one thread, $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD)"
echo
echo "| model | compression | weight bytes | × dense | median µs | × dense |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for model in $MODELS; do
    [ -f "$model" ] || { echo "skipping $model (missing)" >&2; continue; }
    dense_bytes=""
    dense_us=""
    for variant in "${VARIANTS[@]}"; do
        # shellcheck disable=SC2086
        bytes=$("$KILN" inspect "$model" --target "$TARGET" $variant | sed -n 's/^weight bytes: *//p')
        # shellcheck disable=SC2086
        us=$("$KILN" bench "$model" --target "$TARGET" --threads 1 --runs "$RUNS" $variant | sed -n 's/.*median \([0-9.]*\) µs.*/\1/p')
        dense_bytes=${dense_bytes:-$bytes}
        dense_us=${dense_us:-$us}
        awk -v m="$(basename "$model" .tflite)" -v v="${variant:-dense float32}" -v b="$bytes" -v db="$dense_bytes" \
            -v u="$us" -v du="$dense_us" 'BEGIN { printf "| %s | %s | %s | %.2f | %s | %.2f |\n", m, v, b, b / db, u, u / du }'
    done
done
