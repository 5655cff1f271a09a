# The offline teacher simulator (tools/teacher/) over real HTTP on loopback.
if(TARGET distill_teacher)
  distill_test(tools teacher_sim_test LIBS distill_teacher)
endif()
