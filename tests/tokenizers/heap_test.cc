// tok::PrepareHeap and tok::AdviseHugePagesForThreadHeap: the memory a tokenizing process and its worker threads
// allocate from is marked for transparent huge pages (the kernel's VM_HUGEPAGE, "hg" in /proc/self/smaps), and
// memory the process frees stays in its heap.
#include "tokenizers/heap.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
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

// Whether the kernel has transparent huge pages and the heap is glibc's (AddressSanitizer replaces it).
bool HugePagesAreInspectable() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  return std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled");
#endif
}

#if defined(__GLIBC__) && defined(__linux__)

// Under an address-space limit (ulimit -v) too small for the 512 MB reservation, PrepareHeap gives up on it and the
// heap still grows as it needs: a child process (this test runs first, before any PrepareHeap in this process)
// sets the limit 256 MB above what it maps, prepares its heap and allocates 100 MB.
TEST(HeapTest, AddressSpaceLimitLeavesTheHeapWorking) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::ifstream status("/proc/self/status");
    long vm_kb = 0;
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmSize:", 0) == 0) vm_kb = std::stol(line.substr(7));
    const rlim_t limit = static_cast<rlim_t>(vm_kb + (256 << 10)) << 10;
    const rlimit as{limit, limit};
    if (vm_kb == 0 || setrlimit(RLIMIT_AS, &as) != 0) _exit(2);
    PrepareHeap();
    std::vector<void*> blocks;
    for (int i = 0; i < 100; ++i) {
      void* b = std::malloc(1 << 20);
      if (b == nullptr) _exit(1);
      std::memset(b, 1, 1 << 20);
      blocks.push_back(b);
    }
    for (void* b : blocks) std::free(b);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: an allocation failed after PrepareHeap; 2: cannot set the limit";
}

TEST(HeapTest, MainHeapIsMarkedForHugePagesAndKeepsFreedMemory) {
  if (!HugePagesAreInspectable()) GTEST_SKIP() << "no transparent huge pages in this kernel, or a sanitizer's heap";
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
  if (!HugePagesAreInspectable()) GTEST_SKIP() << "no transparent huge pages in this kernel, or a sanitizer's heap";
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
