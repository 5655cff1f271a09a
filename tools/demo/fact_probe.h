// How well a demo base knows its tables: each one-column fact ("7 × 8 = 56", "56 + 3 = 59", "12 - 7 - 1 = 4")
// is prompted up to its "=" and greedily completed by the checkpoint; the completion must start with the right
// number. The student's reasoning is made of these facts, so a base that misses some passes the gaps on.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace distill::demo {

struct FactAccuracy {
  std::string kind;  // "a + b + c", "a - b - c", "x × d", "p + c"
  int facts = 0;
  int correct = 0;
  std::vector<std::string> wrong;  // the first few misses, "7 × 8 = 54" as the model completed them
};

// Probes the checkpoint folder `model_dir` (HF layout with its tokenizer) on every fact of
// teacher::OneColumnFacts(), on the CPU with `threads` threads (0 = LibTorch's default). One entry per kind of
// fact, in the order above. Errors: the checkpoint or its tokenizer cannot be loaded.
absl::StatusOr<std::vector<FactAccuracy>> ProbeFacts(const std::string& model_dir, int threads);

// "x × d 71/80, p + c 355/360, …" with the overall share first: "96.1% of 840 facts (…)".
std::string FormatFactAccuracy(const std::vector<FactAccuracy>& kinds);

}  // namespace distill::demo
