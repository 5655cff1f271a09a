# The training loop end to end on CPU: learning, accumulation, LoRA, NaN stop, bad input, kill -9 + resume, Gloo.
if(TARGET distill_trainer AND TARGET distill_shard)
  distill_test(trainer train_test LIBS distill_trainer distill_shard)
endif()
# The GPU path (skips without a CUDA device, as in CI).
if(TARGET distill_trainer)
  distill_test(trainer cuda_test LIBS distill_trainer)
endif()
