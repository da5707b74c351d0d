#!/usr/bin/env bash
# Installs kiln so it works without this checkout: PREFIX/bin/kiln and the DSL sources that
# tracing model files compiles against, PREFIX/share/kiln/Sources/{Kiln,KilnIR}.
# Usage: bash scripts/install.sh [PREFIX]   (default: ~/.local)
set -euo pipefail
prefix="${1:-$HOME/.local}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
swift build -c release --product kiln
mkdir -p "$prefix/bin" "$prefix/share/kiln/Sources"
install -m 755 .build/release/kiln "$prefix/bin/kiln"
for module in Kiln KilnIR; do
    rm -rf "$prefix/share/kiln/Sources/$module"
    mkdir -p "$prefix/share/kiln/Sources/$module"
    cp Sources/$module/*.swift "$prefix/share/kiln/Sources/$module/"
done
echo "installed $prefix/bin/kiln (DSL sources in $prefix/share/kiln/Sources)"
