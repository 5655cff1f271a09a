# Data parallel on c10d: env parsing, and two real Gloo ranks (the test re-executes itself as both).
if(TARGET distill_trainer)
  distill_test(trainer distributed_test LIBS distill_trainer)
endif()
