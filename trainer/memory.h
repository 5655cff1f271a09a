// Peak memory of training, in the unit users size their hardware by: device memory on CUDA, RSS on the CPU.
#pragma once

#include <torch/types.h>

namespace distill::trainer {

// MB (2^20 bytes) at peak since the last ResetPeakMemory: on a CUDA device, the most bytes LibTorch's caching
// allocator had handed out to tensors on it (torch.cuda.max_memory_allocated; needs a CUDA LibTorch build);
// otherwise this process's peak RSS (getrusage ru_maxrss), which ResetPeakMemory cannot lower.
double PeakMemoryMb(torch::Device device);

// Starts a new peak on a CUDA device (torch.cuda.reset_peak_memory_stats); does nothing on the CPU.
void ResetPeakMemory(torch::Device device);

// Returns the blocks LibTorch's CUDA caching allocator holds but no tensor uses to the driver
// (torch.cuda.empty_cache), so another process can have them; does nothing on the CPU.
void ReleaseCachedMemory(torch::Device device);

}  // namespace distill::trainer
