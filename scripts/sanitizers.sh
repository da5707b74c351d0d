#!/usr/bin/env bash
# Builds and runs the test suite under sanitizers: AddressSanitizer (with
# LeakSanitizer) by default, ThreadSanitizer on request.
#
#   scripts/sanitizers.sh [address|thread ...] [-- extra swift test flags]
#
# Each sanitizer builds into its own scratch folder (.build-address, ...). The
# plugin suites build other packages with SwiftPM, unsanitized, and are
# skipped. The toolchain's own leaks are suppressed by
# scripts/lsan-suppressions.txt.
#
# UndefinedBehaviorSanitizer cannot run: swiftc rejects -sanitize=undefined on
# Linux ("unsupported option"), and Kiln has no C targets it could instrument.
# Swift code checks its own undefined-behaviour cases (overflow, bounds,
# unwrapping) at run time in the debug build the test suite uses.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=()
while [[ $# -gt 0 && $1 != -- ]]; do sanitizers+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
[[ ${#sanitizers[@]} -eq 0 ]] && sanitizers=(address)
for sanitizer in "${sanitizers[@]}"; do
    if [[ $sanitizer == undefined ]]; then
        echo "sanitizers.sh: swiftc does not support -sanitize=undefined on Linux; see this script's header" >&2
        exit 64
    fi
done
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0"
for sanitizer in "${sanitizers[@]}"; do
    swift build --build-tests --sanitize="$sanitizer" --scratch-path ".build-$sanitizer"
    swift test --skip-build --sanitize="$sanitizer" --scratch-path ".build-$sanitizer" \
        --skip "PluginTests|StaticPluginTests|ImportedModelPluginTests" "$@"
done
