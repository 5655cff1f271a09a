#include "tokenizers/heap.h"

#include <cstdint>
#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
extern "C" char end;  // the end of the program's data: the main (sbrk) heap lies between it and sbrk(0)
#endif

namespace distill::tok {

#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
namespace {
constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

bool OnMainHeap(const void* p) {
  const auto at = reinterpret_cast<uintptr_t>(p);
  return at >= reinterpret_cast<uintptr_t>(&end) && at < reinterpret_cast<uintptr_t>(sbrk(0));
}
}  // namespace

void PrepareHeap() {
  constexpr int kReserve = 512 << 20;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);      // glibc's maximum
  mallopt(M_TRIM_THRESHOLD, 2 * kReserve);  // a trimmed and regrown heap would lose the huge-page marking
  // The first block past the initial heap grows it by the pad: then the whole reservation can be marked. The pad
  // goes back down at once: under an address-space limit (ulimit -v) the reservation fails, and a pad left at
  // 512 MB would fail every later growth of the heap too.
  mallopt(M_TOP_PAD, kReserve);
  void* probe = std::malloc(kHugePage);
  mallopt(M_TOP_PAD, 16 << 20);
  if (probe == nullptr) return;
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(probe) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t hi = reinterpret_cast<uintptr_t>(sbrk(0)) & ~(kHugePage - 1);
  if (OnMainHeap(probe) && hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
  std::free(probe);
}

void AdviseHugePagesForThreadHeap() {
  constexpr uintptr_t kArenaHeapBytes = uintptr_t{64} << 20;  // glibc's HEAP_MAX_SIZE on 64-bit
  void* probe = std::malloc(64);  // attaches this thread's arena
  if (probe == nullptr) return;
  const bool main_heap = OnMainHeap(probe);
  const auto at = reinterpret_cast<uintptr_t>(probe);
  std::free(probe);
  if (!main_heap) madvise(reinterpret_cast<void*>(at & ~(kArenaHeapBytes - 1)), kArenaHeapBytes, MADV_HUGEPAGE);
}
#else
void PrepareHeap() {}
void AdviseHugePagesForThreadHeap() {}
#endif

}  // namespace distill::tok
