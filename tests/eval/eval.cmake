# Eval library (tools/eval/): benchmark files and converters, grading and metrics, eval run folders.
if(TARGET distill_eval)
  distill_test(eval benchmark_test LIBS distill_eval)
  distill_test(eval metrics_test LIBS distill_eval)
  distill_test(eval eval_run_test LIBS distill_eval)
endif()
if(TARGET distill_eval AND TARGET distill_teacher)
  distill_test(eval eval_endpoint_test LIBS distill_eval distill_teacher)
endif()
