#!/usr/bin/env bash
# The main job, end to end, on the embedded default: `distill demo` runs the whole pipeline offline on this
# machine's CPU cores — teacher-sim (an R1 stand-in with faults) → collect → verify → a byte-level BPE vocabulary →
# a tiny Qwen3-architecture base → SFT on the verified traces → GGUF q8_0 → eval of base, student (LibTorch) and
# student GGUF (llama.cpp) on held-out problems → report.html. Extra arguments go to `distill demo`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/setup.sh"
"$root/tools/build.sh"
"$root/build/distill" demo --work "$root/build/demo" "$@"
