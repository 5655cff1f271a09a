// Heap set-up for the processes and worker threads that tokenize: transparent huge pages and no hand-back of
// freed memory. Page faults cost ~10 µs on a paravirtualised VM: a cold process loading a 150k-token tokenizer spent
// two thirds of its 0.36 s on them, and a 2-thread build 8% of its time. Both calls are glibc/Linux only (elsewhere
// no-ops) and leave allocation results unchanged; memory reserved here is address space until touched.
#pragma once

namespace distill::tok {

// Process-wide; call once, first thing in main(). Reserves 512 MB of main heap (the glibc sbrk heap the main
// thread allocates from) and marks it for transparent huge pages, so it faults in 2 MB at a time; keeps freed
// memory in the heap (trim threshold 1 GB, top pad 16 MB, blocks up to 32 MB from the heap rather than mmap)
// instead of returning it after each long line or sample and faulting it in again.
void PrepareHeap();

// Marks the calling thread's malloc arena for transparent huge pages (glibc gives each arena heaps of 64 MB
// reserved at 64 MB-aligned addresses), so what a tokenizing thread grows into (its word cache, its id vectors)
// faults in 2 MB at a time. Nothing for a thread on the main heap. Cheap; call at the start of each worker thread.
void AdviseHugePagesForThreadHeap();

}  // namespace distill::tok
