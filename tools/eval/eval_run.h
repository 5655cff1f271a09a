// Eval run folders: written by `distill eval … -o DIR`, read by `distill report` (docs/formats.md, "Eval
// benchmarks and eval run folders").
//
//   DIR/samples.jsonl  one line per sample: {"id", "problem", "answer", "difficulty", "sample", "reasoning",
//                      "content", "separated", "finish_reason", "reasoning_tokens", "answer_tokens", "extracted",
//                      "correct", "think_ok", "truncated", "loop", "language_mix"} plus "raw" for an inline sample
//                      with a malformed think block. "reasoning"/"content" are the graded split (content = the
//                      answer part); token counts are null when unknown.
//   DIR/eval.json      {"name", "backend", "model", "benchmark", "samples_per_problem", "settings": {…},
//                      "metrics": MetricsToJson(…), "wall_seconds"}, written last: a folder with eval.json is
//                      complete.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/eval/benchmark.h"
#include "tools/eval/metrics.h"

namespace distill::eval {

// The run description stored in eval.json.
struct EvalRunInfo {
  std::string name;     // shown as the column heading in comparisons
  std::string backend;  // "endpoint", "torch" or "gguf"
  std::string model;
  std::string benchmark;  // the benchmark file or its name
  int samples_per_problem = 0;
  nlohmann::json settings = nlohmann::json::object();  // free-form: temperature, top_p, max_new_tokens, seed…
  double wall_seconds = 0;
  std::vector<int> ks = {1, 2, 4, 8, 16, 32, 64};  // pass@k values to report (those above n are left out)
};

// Writes DIR/samples.jsonl then DIR/eval.json (each temp-then-rename; DIR is created) and returns the metrics
// stored there (Summarize(items, graded, info.ks)). samples_per_problem must match the samples given.
absl::StatusOr<EvalMetrics> WriteEvalRun(const std::string& dir, const EvalRunInfo& info,
                                         const std::vector<BenchmarkItem>& items,
                                         const std::vector<GradedSample>& graded);

// A run read back from its folder.
struct EvalRun {
  EvalRunInfo info;  // info.ks are the k of metrics.pass_at_k
  nlohmann::json metrics_json;
  EvalMetrics metrics;
  std::vector<BenchmarkItem> items;    // in order of first appearance in samples.jsonl
  std::vector<GradedSample> samples;   // in file order; item_index points into items
};

// Reads and validates DIR (eval.json, then samples.jsonl): types of every key, each problem with exactly
// samples_per_problem samples numbered 0 … n-1, repeated ids with the same problem/answer/difficulty. Errors
// name "FILE:LINE" (or "FILE: key") and what was expected.
absl::StatusOr<EvalRun> ReadEvalRun(const std::string& dir);

// What a comparison needs of one run.
struct EvalRunSummary {
  std::string name;
  std::string model;
  std::string benchmark;
  EvalMetrics metrics;
};

// Reads only DIR/eval.json (fast for large runs).
absl::StatusOr<EvalRunSummary> ReadEvalRunSummary(const std::string& dir);

// The summary of a run already read.
EvalRunSummary SummaryOf(const EvalRun& run);

// Several runs side by side as a plain-text table: one column per run (headed by its name), one row per metric
// — problems, samples/problem, pass@1, maj@n, pass@k, think format, mean reasoning / answer tokens ("n/a" when
// unknown), truncation, loop, language mix, then pass@1 and maj@n per difficulty when any run has them. Shares
// are percentages with one decimal ("71.3%"); a value a run lacks is "-". Ends with a newline.
std::string FormatComparisonTable(const std::vector<EvalRunSummary>& runs);

// The same rows as a GitHub Markdown table.
std::string FormatComparisonMarkdown(const std::vector<EvalRunSummary>& runs);

}  // namespace distill::eval
