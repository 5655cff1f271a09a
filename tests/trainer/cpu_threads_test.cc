// ConfigureCpuThreads sizes both pools: LibTorch's intra-op team as asked, OpenBLAS's pool to one thread for a
// small model (its spinning workers otherwise take cores from LibTorch's team) and to the team's size for a wide one.
#include "trainer/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

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

}  // namespace
}  // namespace distill::trainer
