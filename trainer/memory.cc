#include "trainer/memory.h"

#include <sys/resource.h>

// DISTILL_WITH_CUDA: trainer/CMakeLists.txt defines it on this file when LibTorch was built with CUDA.
#if defined(DISTILL_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace distill::trainer {

#if defined(DISTILL_WITH_CUDA)
namespace {
c10::DeviceIndex IndexOf(torch::Device device) { return device.has_index() ? device.index() : c10::cuda::current_device(); }
}  // namespace
#endif

double PeakMemoryMb(torch::Device device) {
#if defined(DISTILL_WITH_CUDA)
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(IndexOf(device));
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);  // [0]: StatType::AGGREGATE
  }
#endif
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void ResetPeakMemory(torch::Device device) {
#if defined(DISTILL_WITH_CUDA)
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(IndexOf(device));
#endif
  (void)device;
}

void ReleaseCachedMemory(torch::Device device) {
#if defined(DISTILL_WITH_CUDA)
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  (void)device;
}

}  // namespace distill::trainer
