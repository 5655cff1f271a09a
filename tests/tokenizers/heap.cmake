# Heap set-up for tokenizing processes and threads (huge pages, no trimming), checked through /proc/self/smaps.
if(TARGET distill_tokenizer_core)
  distill_test(tokenizers heap_test LIBS distill_tokenizer_core)
endif()
