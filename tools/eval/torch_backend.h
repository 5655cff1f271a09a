// The LibTorch backend of `distill eval`: an HF-layout checkpoint (Llama / Qwen2 / Qwen3) sampled with our
// KV-cache decoder (trainer/decode.h), on CUDA when it is available (in bf16 by default), else on the CPU (fp32).
#pragma once

#include "absl/status/statusor.h"
#include "tools/eval/runner.h"

namespace distill::eval {

// Loads options.model (an HF model folder, or a PEFT LoRA adapter folder merged into options.base or else the
// base its adapter_config.json names) and returns a backend that samples options.samples completions per
// request with options.temperature / top_p / max_new_tokens (temperature 0 = greedy). Errors name the folder.
absl::StatusOr<TokenBackend> MakeTorchBackend(const EvalOptions& options);

}  // namespace distill::eval
