// Thread pools of CPU training and decoding: LibTorch's intra-op (OpenMP) team and OpenBLAS's own pool.
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

}  // namespace distill::trainer
