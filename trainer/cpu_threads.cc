#include "trainer/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <thread>

namespace distill::trainer {

void ConfigureCpuThreads(int threads, int64_t hidden_size) {
  if (threads > 0) at::set_num_threads(threads);
  // Looked up at run time: LibTorch builds without OpenBLAS (MKL, CUDA wheels) do not export it.
  using SetThreads = void (*)(int);
  auto set_blas_threads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set_blas_threads == nullptr) return;
  const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_blas_threads(hidden_size < kBlasPoolMinHidden ? 1 : (threads > 0 ? threads : all));
}

bool KeepFreedMemoryInHeap() {
  // Both together: setting either turns off glibc's adjustment of the other (the trim threshold alone leaves every
  // block over 128 KiB to mmap: 10x slower).
  return mallopt(M_MMAP_THRESHOLD, kHeapBlockLimit) == 1 && mallopt(M_TRIM_THRESHOLD, kHeapBlockLimit) == 1;
}

}  // namespace distill::trainer
