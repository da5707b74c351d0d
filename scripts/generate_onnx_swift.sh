#!/usr/bin/env bash
# Regenerates Sources/KilnImport/ONNX/Generated/onnx.pb.swift from the onnx.proto that the
# `onnx` Python package ships, with protoc and swift-protobuf's protoc-gen-swift at the
# version Package.swift depends on. Run by hand when moving to a newer ONNX; the result is
# committed, because building the protobuf plugin in CI takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOBUF_VERSION=1.39.0
ONNX_VERSION=1.23.2
command -v protoc >/dev/null || apt-get install -y protobuf-compiler
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "onnx==$ONNX_VERSION"
proto_dir=$("$work/venv/bin/python" -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')
git clone -q https://github.com/apple/swift-protobuf "$work/swift-protobuf"
git -C "$work/swift-protobuf" checkout -q "$PROTOBUF_VERSION"
swift build -c release --package-path "$work/swift-protobuf" --product protoc-gen-swift
(cd "$proto_dir" && protoc --plugin=protoc-gen-swift="$work/swift-protobuf/.build/release/protoc-gen-swift" \
    --swift_out="$work" --swift_opt=Visibility=Internal onnx.proto)
cp "$work/onnx.pb.swift" Sources/KilnImport/ONNX/Generated/onnx.pb.swift
echo "wrote Sources/KilnImport/ONNX/Generated/onnx.pb.swift from onnx $ONNX_VERSION with swift-protobuf $PROTOBUF_VERSION"
