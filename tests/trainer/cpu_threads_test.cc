// ConfigureCpuThreads sizes both pools: LibTorch's intra-op team as asked, OpenBLAS's pool to one thread for a
// small model (its spinning workers otherwise take cores from LibTorch's team) and to the team's size for a wide one.
// KeepFreedMemoryInHeap lets a step's freed activations serve the next step without faulting pages in again.
#include "trainer/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sys/resource.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace distill::trainer {
namespace {

// OpenBLAS's own count, or -1 where LibTorch does not use OpenBLAS.
int BlasThreads() {
  using GetThreads = int (*)();
  auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return get == nullptr ? -1 : get();
}

// Property: LibTorch gets the count asked for; OpenBLAS gets 1 below kBlasPoolMinHidden and that count from it on.
TEST(CpuThreads, SmallModelsGetOneBlasThreadWideModelsTheTeamSize) {
  ConfigureCpuThreads(2, 128);
  EXPECT_EQ(at::get_num_threads(), 2);
  if (BlasThreads() < 0) GTEST_SKIP() << "LibTorch here does not use OpenBLAS";
  EXPECT_EQ(BlasThreads(), 1);
  ConfigureCpuThreads(2, kBlasPoolMinHidden);
  EXPECT_EQ(BlasThreads(), 2);
  ConfigureCpuThreads(1, 4096);
  EXPECT_EQ(at::get_num_threads(), 1);
  EXPECT_EQ(BlasThreads(), 1);
}

// Property: threads = 0 leaves LibTorch's team as it was and still sizes OpenBLAS for the model.
TEST(CpuThreads, ZeroLeavesLibTorchsCount) {
  at::set_num_threads(1);
  ConfigureCpuThreads(0, 64);
  EXPECT_EQ(at::get_num_threads(), 1);
  if (BlasThreads() < 0) GTEST_SKIP() << "LibTorch here does not use OpenBLAS";
  EXPECT_EQ(BlasThreads(), 1);
}

int64_t MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Allocates `bytes`, writes one byte per page, frees them.
void TouchAndFree(size_t bytes) {
  volatile char* block = static_cast<volatile char*>(std::malloc(bytes));
  ASSERT_NE(block, nullptr);
  for (size_t i = 0; i < bytes; i += 4096) block[i] = 1;
  std::free(const_cast<char*>(block));
}

// Property: after KeepFreedMemoryInHeap, a freed 64 MiB block (twice glibc's largest dynamic mmap threshold, so by
// default unmapped on free and faulted in again, page by page, on the next use) serves the next allocation of its
// size: fewer than a tenth of its 16,384 pages fault again.
TEST(CpuAllocator, FreedBlocksAreReusedWithoutPageFaults) {
  ASSERT_TRUE(KeepFreedMemoryInHeap());
  constexpr size_t kBytes = size_t{64} << 20;
  TouchAndFree(kBytes);
  const int64_t before = MinorFaults();
  TouchAndFree(kBytes);
  const int64_t faults = MinorFaults() - before;
  std::printf("pages faulted on the second 64 MiB block: %lld of %zu\n", static_cast<long long>(faults),
              kBytes / 4096);
  EXPECT_LT(faults, static_cast<int64_t>(kBytes / 4096 / 10));
}

}  // namespace
}  // namespace distill::trainer
