# The trace collector (data/collect): SSE and dialects, JSONL log and resume, end-to-end runs against an in-test
# cpp-httplib server with faults, rate limits, secrets. Real HTTP on 127.0.0.1.
if(TARGET distill_collect AND TARGET PkgConfig::HTTPLIB)
  foreach(t collect_sse_test collect_log_test collect_e2e_test collect_rate_test collect_cli_test)
    distill_test(data ${t} LIBS distill_collect PkgConfig::HTTPLIB)
  endforeach()
  if(TARGET distill)
    add_dependencies(collect_cli_test distill)  # runs the built binary
  endif()
endif()
# Against the offline teacher simulator (tools/teacher): dialects × streaming, 1,000 samples under the fault mix with
# kill -9 / resume rounds, the request budget, the API key through the built binary, inline verify.
if(TARGET distill_collect AND TARGET distill_teacher)
  distill_test(data collect_teacher_sim_test LIBS distill_collect distill_teacher LABELS long)
  if(TARGET distill)
    add_dependencies(collect_teacher_sim_test distill)  # runs the built binary
  endif()
endif()
