# Hugging Face checkpoint I/O (trainer/hf, plain C++): config.json parsing and refusals; safetensors read/write,
# sharded folders, hostile headers and a bounded header fuzz.
if(TARGET distill_hf)
  foreach(t model_config_test safetensors_test)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/hf/${t}.cc)
      distill_test(hf ${t} LIBS distill_hf)
    endif()
  endforeach()
endif()
