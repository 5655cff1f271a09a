#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite. Extra arguments go to ctest (e.g. -L tokenizers).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/setup.sh"
"$root/tools/build.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" "$@"
