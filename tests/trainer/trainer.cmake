# Model families, incremental decoding, HF checkpoint io and CPU thread pools (distill_trainer). Tiny random
# models on the CPU.
if(TARGET distill_trainer)
  foreach(t model_test decode_test checkpoint_io_test cpu_threads_test)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/trainer/${t}.cc)
      distill_test(trainer ${t} LIBS distill_trainer)
    endif()
  endforeach()
endif()
