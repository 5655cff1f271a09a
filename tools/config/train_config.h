// The run config's `train:` and `lora:` sections (configs/*.yaml): their schema and their reading into
// trainer::TrainOptions, shared by `distill train` and the demo (whose SFT stage runs configs/demo.yaml).
#pragma once

#include "tools/config/config.h"
#include "trainer/train.h"

namespace distill::config {

// Every key `distill train` accepts, with its type, default, one-line doc and range. Ranges hold what training
// needs (lr in (0, 1], β in [0, 1), threads ≤ 4096, …), so LoadConfig refuses a bad value before any model is
// loaded, naming the file's line:column or the command-line override.
Schema TrainSchema();

// The options a config loaded with TrainSchema spells, with resolved_config set to the whole config. The caller
// sets the rest (chat_template, resume, on_step).
trainer::TrainOptions TrainOptionsFromConfig(const Config& cfg);

}  // namespace distill::config
