# Optimizer, schedule, clipping, optimizer checkpoints and LoRA (distill_trainer). Tiny random models on the CPU.
if(TARGET distill_trainer)
  distill_test(trainer optim_test LIBS distill_trainer)
  distill_test(trainer lora_test LIBS distill_trainer)
endif()
