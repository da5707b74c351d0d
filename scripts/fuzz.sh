#!/usr/bin/env bash
# Builds kiln-fuzz with libFuzzer and AddressSanitizer and runs one target.
#
#   scripts/fuzz.sh TARGET [libFuzzer flags ...]     fuzz TARGET
#   scripts/fuzz.sh TARGET --update-corpus           merge what runs found into the committed corpus
#
# TARGET is tflite, onnx, safetensors, npy or npz. The committed corpus is
# Fuzz/Corpus/TARGET.hex, one input per line in hex; the run starts from it and
# adds what it finds to Fuzz/Findings/TARGET (git-ignored), and a crash is
# written to Fuzz/Findings as crash-*. Models in KILN_FUZZ_MODELS
# (colon-separated folders of .tflite and .onnx files) join the tflite and onnx targets' built-in
# seed models. Example, a million executions:
#
#   scripts/fuzz.sh tflite -runs=1000000
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh tflite|onnx|safetensors|npy|npz [--update-corpus | libFuzzer flags ...]}
shift
swift build -c release --product kiln-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DKILN_LIBFUZZER -Xswiftc -use-ld=lld >&2
export KILN_FUZZ_TARGET=$target
# Allocation stacks cost a third of the run time and are not needed to find a crash; rerun one with them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0}
corpus=Fuzz/Corpus/$target.hex
seeds=.build-fuzz/corpus/$target
findings=Fuzz/Findings/$target
rm -rf "$seeds" && mkdir -p "$seeds" "$findings"
python3 - "$corpus" "$seeds" <<'PY'
import hashlib, pathlib, sys
corpus, folder = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for line in corpus.read_text().split() if corpus.exists() else []:
    data = bytes.fromhex(line)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
PY
if [[ ${1:-} == --update-corpus ]]; then
    merged=.build-fuzz/merged/$target
    rm -rf "$merged" && mkdir -p "$merged"
    .build-fuzz/release/kiln-fuzz -merge=1 -max_len=256 "$merged" "$seeds" "$findings"
    python3 - "$merged" "$corpus" <<'PY'
import pathlib, sys
folder, corpus = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
lines = sorted(path.read_bytes().hex() for path in folder.iterdir())
corpus.write_text("".join(line + "\n" for line in lines if line))
print(f"{corpus}: {len(lines)} inputs")
PY
    exit
fi
exec .build-fuzz/release/kiln-fuzz -artifact_prefix=Fuzz/Findings/ -timeout=10 -rss_limit_mb=4096 -max_len=256 \
    -len_control=10 -print_final_stats=1 "$@" "$findings" "$seeds"
