# Chunked masked loss and per-layer activation checkpointing (distill_trainer). Tiny random models on the CPU.
if(TARGET distill_trainer)
  foreach(t loss_test recompute_test)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/trainer/${t}.cc)
      distill_test(trainer ${t} LIBS distill_trainer)
    endif()
  endforeach()
endif()
