#!/usr/bin/env bash
# Installs what Kiln needs on a fresh Debian machine: LLVM's shared library
# (Kiln binds its C API at run time) and checks for the Swift toolchain.
set -euo pipefail

if ! ls /usr/lib/llvm-*/lib/libLLVM*.so* >/dev/null 2>&1; then
    echo "setup: installing llvm-dev (LLVM's C API, used by Kiln's code generator)"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq llvm-dev >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    else
        echo "setup: Swift 6 is required (https://swift.org/install)" >&2
        exit 1
    fi
fi
