# The offline teacher simulator (tools/teacher/) over real HTTP on loopback.
if(TARGET distill_teacher)
  distill_test(tools teacher_sim_test LIBS distill_teacher)
endif()
if(TARGET distill_teacher)
  distill_test(tools column_arithmetic_test LIBS distill_teacher)
endif()
# The shortened offline demo, end to end (minutes on 2 cores).
if(TARGET distill_demo)
  # Protobuf first (DISTILL_PROTOBUF_FIRST), so LibTorch and sentencepiece share one copy.
  distill_test(tools demo_test LIBS ${DISTILL_PROTOBUF_FIRST} distill_trainer distill_eval LABELS long)
  set_tests_properties(tools/demo_test PROPERTIES TIMEOUT 1200)
endif()
