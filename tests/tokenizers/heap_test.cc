// tok::PrepareHeap and tok::AdviseHugePagesForThreadHeap: the memory a tokenizing process and its worker threads
// allocate from is marked for transparent huge pages (the kernel's VM_HUGEPAGE, "hg" in /proc/self/smaps), and
// memory the process frees stays in its heap.
#include "tokenizers/heap.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace distill::tok {
namespace {

// VmFlags of the mapping holding `p`, or "" when no mapping holds it.
std::string VmFlagsAt(const void* p) {
  const auto at = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream range(line);
    if (line.find("VmFlags:") == 0) {
      if (inside) return line;
      continue;
    }
    if (range >> std::hex >> lo >> dash >> hi && dash == '-') inside = lo <= at && at < hi;
  }
  return "";
}

bool HasHugePageFlag(const void* p) { return VmFlagsAt(p).find(" hg") != std::string::npos; }

bool KernelHasHugePages() { return std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled"); }

#if defined(__GLIBC__) && defined(__linux__)

TEST(HeapTest, MainHeapIsMarkedForHugePagesAndKeepsFreedMemory) {
  if (!KernelHasHugePages()) GTEST_SKIP() << "no transparent huge pages in this kernel";
  PrepareHeap();
  // From the main heap (below the 32 MB mmap threshold). Its start may lie in the partial 2 MB page where the heap
  // stood before the call; its end lies in the reservation.
  constexpr size_t kBlock = 8 << 20;
  char* block = static_cast<char*>(std::malloc(kBlock));
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(HasHugePageFlag(block + kBlock - 1)) << VmFlagsAt(block + kBlock - 1);
  // 200 MB allocated and freed again: the heap does not shrink (nothing to fault in again on the next line).
  std::vector<void*> blocks;
  for (int i = 0; i < 200; ++i) blocks.push_back(std::malloc(1 << 20));
  const void* grown = sbrk(0);
  for (void* b : blocks) std::free(b);
  EXPECT_EQ(sbrk(0), grown);
  std::free(block);
}

TEST(HeapTest, WorkerThreadArenaIsMarkedOnlyWhenAdvised) {
  if (!KernelHasHugePages()) GTEST_SKIP() << "no transparent huge pages in this kernel";
  bool before = true, after = false;
  std::thread worker([&] {
    void* first = std::malloc(4096);  // attaches this new thread's own arena
    before = HasHugePageFlag(first);
    AdviseHugePagesForThreadHeap();
    void* second = std::malloc(4096);
    after = HasHugePageFlag(second);
    std::free(first);
    std::free(second);
  });
  worker.join();
  EXPECT_FALSE(before) << "a fresh thread arena is not marked before the call";
  EXPECT_TRUE(after);
}

#endif

}  // namespace
}  // namespace distill::tok
