// The run config's `train:` and `lora:` sections (configs/*.yaml): their schema and their reading into
// trainer::TrainOptions, shared by `distill train` and the demo (whose SFT stage runs configs/demo.yaml).
#pragma once

#include "absl/status/statusor.h"
#include "tools/config/config.h"
#include "trainer/train.h"

namespace distill::config {

// Every key `distill train` accepts, with its type, default and one-line doc.
Schema TrainSchema();

// The options a loaded config (LoadConfig with TrainSchema) spells, with resolved_config set to the whole config.
// Values in range for their type but not for training (lr ≤ 0, warmup_ratio ≥ 1, …) are InvalidArgument, one line
// per value: "<file:line:col | command-line override #N | default>: key '<key>': expected <range>, got <value>",
// so they fail before any model is loaded. The caller sets the rest (chat_template, resume, on_step).
absl::StatusOr<trainer::TrainOptions> TrainOptionsFromConfig(const Config& cfg);

}  // namespace distill::config
