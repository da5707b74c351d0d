#!/usr/bin/env bash
# Builds and runs the test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/sanitizers.sh [address|undefined ...] [-- extra swift test flags]
#
# Each sanitizer builds into its own scratch folder (.build-address,
# .build-undefined). The plugin suites build other packages with SwiftPM,
# unsanitized, and are skipped. LeakSanitizer runs with ASan; the toolchain's
# own leaks are suppressed by scripts/lsan-suppressions.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=()
while [[ $# -gt 0 && $1 != -- ]]; do sanitizers+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
[[ ${#sanitizers[@]} -eq 0 ]] && sanitizers=(address undefined)
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
for sanitizer in "${sanitizers[@]}"; do
    swift build --build-tests --sanitize="$sanitizer" --scratch-path ".build-$sanitizer"
    swift test --skip-build --sanitize="$sanitizer" --scratch-path ".build-$sanitizer" \
        --skip "PluginTests|StaticPluginTests|ImportedModelPluginTests" "$@"
done
