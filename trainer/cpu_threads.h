// CPU training and decoding setup: LibTorch's intra-op (OpenMP) team, OpenBLAS's own pool, and glibc's heap.
#pragma once

#include <cstdint>

namespace distill::trainer {

// Models narrower than this get one OpenBLAS thread (see ConfigureCpuThreads).
inline constexpr int64_t kBlasPoolMinHidden = 512;

// Sets LibTorch's intra-op threads to `threads` (0 = leave LibTorch's default) and sizes OpenBLAS's pool for a
// model of `hidden_size`. Debian's LibTorch runs its GEMMs in OpenBLAS, whose pthread pool at::set_num_threads does
// not size and whose workers spin after each call: a small model's GEMMs are too short to share, so the pool only
// takes cores from LibTorch's team (hidden 128 on 2 cores trained 2.5x slower with both at 2 than with OpenBLAS
// at 1), while at hidden 512 the pool pays (1.33x). Below kBlasPoolMinHidden OpenBLAS gets 1 thread, otherwise
// `threads` (0: all cores). Does nothing to the BLAS where LibTorch uses another one (MKL follows LibTorch's count).
void ConfigureCpuThreads(int threads, int64_t hidden_size);

// Blocks below this many bytes stay in glibc's heap when freed (see KeepFreedMemoryInHeap).
inline constexpr int kHeapBlockLimit = 1 << 30;

// Every training or decoding step allocates and frees the same activation sizes. glibc hands blocks over its mmap
// threshold (dynamic, at most 32 MiB) back to the kernel when freed and trims the heap's top above 128 KiB, so the
// next step faults the same memory in again, zeroed page by page. This keeps freed blocks below kHeapBlockLimit in
// the heap for reuse (mallopt M_MMAP_THRESHOLD and M_TRIM_THRESHOLD): the demo's SFT trains ~1.45x faster on CPU
// for ~3% more peak RSS. Process-wide; returns false where the C library refused (not glibc).
bool KeepFreedMemoryInHeap();

}  // namespace distill::trainer
