#!/usr/bin/env bash
# Configures and builds Distill into build/ (Release, Ninja). Extra arguments go to cmake's configure step.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmake -S "$root" -B "$root/build" -G Ninja -DDISTILL_REQUIRE_ALL=ON "$@" >/dev/null
cmake --build "$root/build" -j "$(nproc)"
