#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The AArch64 kernel tests link static AArch64 programs and run them under qemu-user.
if ! command -v qemu-aarch64 >/dev/null 2>&1 || ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    echo "test: installing qemu-user and the AArch64 cross compiler (for the AArch64 kernel tests)"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    # Without them those suites say why they are skipped; the rest still runs.
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null; } ||
        echo "test: could not install them; the AArch64 suites will be skipped" >&2
fi
# Headless Chromium renders `kiln inspect --graph` pictures in GraphPictureTests.
if ! command -v chromium >/dev/null 2>&1; then
    echo "test: installing chromium (to check that kiln's SVG pictures render)"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; } ||
        echo "test: could not install chromium; the rendering check will be skipped" >&2
fi
# PoCL runs OpenCL on this machine's CPU, for the OpenCL delegate's tests.
if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 || ! ldconfig -p | grep -q libOpenCL.so.1; then
    echo "test: installing PoCL and the OpenCL ICD loader (for the OpenCL delegate tests)"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        pocl-opencl-icd ocl-icd-libopencl1 >/dev/null; } ||
        echo "test: could not install them; the OpenCL delegate suites will be skipped" >&2
fi
swift build --build-tests
swift test --skip-build
