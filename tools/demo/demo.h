// `distill demo`: the whole pipeline offline on a few CPU cores, one progress line per stage:
//   teacher-sim (faults on) → collect → verify → a byte-level BPE vocabulary → a tiny Qwen3-architecture base
//   pretrained on problem → answer text (no reasoning; problems and the one-digit tables) → SFT on the verified
//   traces → GGUF q8_0 → eval of the base (LibTorch), the student (LibTorch) and the student's GGUF (llama.cpp) on
//   held-out problems → report.html.
// The problems are multi-digit arithmetic and short word problems (teacher::GenerateDemoProblems), which the
// teacher works column by column: the student can learn that procedure, the base (answers only) cannot. The base
// knows the one-column facts the working is made of (as a real base knows its tables): a 0.9M-parameter model
// cannot also memorise them from the few traces that fit in the budget (35% held-out accuracy without them).
// With several cores, both trainings run as data-parallel ranks of `trainer_binary` (see DemoOptions).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/eval/eval_run.h"

namespace distill::demo {

struct DemoOptions {
  // Folder for every artifact (created; kept afterwards). A rerun replaces the earlier results there; a folder that
  // holds files the demo did not make (no .distill-demo inside) is refused.
  std::string work;
  uint64_t seed = 7;            // drives problems, teacher content, faults, init, data order and sampling
  int threads = 0;              // CPU threads for training and decoding (0 = all cores)
  // Sizes (the defaults are the full demo; tests shrink them).
  int train_problems = 2400;    // prompts sent to the teacher (distinct problems: a tiny student memorises repeats)
  int heldout_problems = 96;    // evaluated, never trained on (96: one problem moves accuracy by ~1 point)
  int pretrain_texts = 3000;    // problem → answer texts for the base (1500: the student fell from 75% to 38%)
  int vocab_size = 768;
  int pretrain_fact_lines = 4000;  // lines of 8 one-column facts (the tables a base knows) beside those texts
  double pretrain_epochs = 4.5; // the facts need the steps: student 93.8% / 55.2% (seeds 7 / 8) vs 88.5% / 33.3% with 3
                                // (before products were a quarter of the fact picks)
  // SFT runs configs/demo.yaml (embedded at build time); these override its values when set.
  std::optional<double> sft_epochs, sft_lr;
  std::optional<int64_t> sft_batch_rows;  // 1024-token rows per step
  int64_t max_new_tokens = 384;
  std::string node = "node";    // for the GGUF eval through node-llama-cpp
  // A binary with the `train` verb (distill-torch) that trains as data-parallel ranks of one thread each when
  // there are several cores; empty: training runs in this process.
  std::string trainer_binary;
  std::function<void(const std::string& line)> log;  // progress lines (default: stdout)
};

struct DemoResult {
  std::vector<eval::EvalRunSummary> runs;  // base, student, student GGUF
  double base_accuracy = 0, student_accuracy = 0, gguf_accuracy = 0;  // pass@1 on the held-out problems
  std::string report_path;
  double seconds = 0;
};

// Runs the demo in options.work. Errors name the stage that failed.
absl::StatusOr<DemoResult> RunDemo(const DemoOptions& options);

}  // namespace distill::demo
