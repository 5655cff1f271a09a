// `distill report`: one self-contained HTML file (inline CSS and SVG, no JavaScript, no network) over train run
// folders (metrics.jsonl) and eval run folders (eval.json + samples.jsonl): loss / learning-rate / throughput
// charts per train run, an eval comparison table, and per eval run a reasoning-length histogram and sample traces.
// The run files are parsed here with nlohmann::json (formats in docs/formats.md); errors name file and line.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::eval {

// The types are Report-prefixed: eval_run.h has its own EvalRun / EvalMetrics for the runner's side.

// One metrics.jsonl line. Values a line lacks (or holds as null, e.g. a NaN loss) are nullopt.
struct ReportTrainPoint {
  int64_t step = 0;
  std::optional<double> epoch, loss, lr, grad_norm, tokens, tokens_per_s, memory_mb, val_loss;
};

// A train run folder: a folder holding metrics.jsonl.
struct ReportTrainRun {
  std::string name;         // the folder's name (made unique across the report)
  std::string dir;          // the folder as found
  std::string config_file;  // "resolved.yaml", "config.yaml" or "config.json" when present; else empty
  std::vector<ReportTrainPoint> points;  // file order
};

// eval.json "metrics". Anything missing or null is nullopt (shown as "—").
struct ReportDifficulty {
  std::optional<int64_t> problems;
  std::optional<double> pass1, maj;
};
struct ReportEvalMetrics {
  std::optional<int64_t> problems, samples;
  std::optional<double> pass1, maj;
  std::map<int64_t, double> pass_at_k;  // k → pass@k
  std::optional<double> think_format_rate, truncation_rate, loop_rate, language_mix_rate;
  std::optional<double> mean_reasoning_tokens, mean_answer_tokens;
  std::vector<std::pair<std::string, ReportDifficulty>> by_difficulty;  // natural order ("level 2" < "level 10")
};

// One samples.jsonl line. Token counts are -1 when unknown.
struct ReportSample {
  std::string id, problem, answer, difficulty, reasoning, content, finish_reason, extracted;
  int64_t sample = 0;
  int64_t reasoning_tokens = -1, answer_tokens = -1;
  bool correct = false, think_ok = false, truncated = false, loop = false, language_mix = false;
};

// An eval run folder: a folder holding eval.json (and normally samples.jsonl).
struct ReportEvalRun {
  std::string name;  // eval.json "name", else the folder's name (made unique across the report)
  std::string dir;
  std::string backend, model, benchmark;
  std::optional<int64_t> samples_per_problem;
  nlohmann::json settings = nlohmann::json::object();
  ReportEvalMetrics metrics;
  std::optional<double> wall_seconds;
  bool has_samples = false;  // samples.jsonl was present
  std::vector<ReportSample> samples;
};

struct ReportInputs {
  std::vector<std::string> dirs;  // the folders asked for, as given
  std::vector<ReportTrainRun> train_runs;
  std::vector<ReportEvalRun> eval_runs;
};

struct ReportOptions {
  std::string title = "Distill report";
  std::string generated_at;     // shown in the header; empty: the current time, UTC
  int correct_traces = 3;       // sample traces shown per eval run with a correct answer…
  int incorrect_traces = 3;     // …and with a wrong one (fewer when the run has fewer)
  size_t max_trace_chars = 20000;  // longer reasoning/answers are cut (code points), saying how much was left out
};

// Reads one train run folder (metrics.jsonl). Malformed lines are errors naming "file:line"; an unfinished last
// line (no newline: the run is still writing it) is left out.
absl::StatusOr<ReportTrainRun> ReadReportTrainRun(const std::string& dir);

// Reads one eval run folder (eval.json, samples.jsonl when present); errors name the file (and line).
absl::StatusOr<ReportEvalRun> ReadReportEvalRun(const std::string& dir);

// Scans each folder in `dirs`, itself and its immediate subfolders (sorted by name), for train and eval runs.
// A named folder that is missing, or holds no run at all, is an error; subfolders without runs are ignored.
// Run names are made unique ("name (2)") so the report's ids stay distinct.
absl::StatusOr<ReportInputs> ScanReportInputs(const std::vector<std::string>& dirs);

// The report as one HTML document: no scripts, no external references (a Content-Security-Policy forbids any),
// all input text HTML-escaped. Stable hooks: <svg class="chart" data-chart="loss-RUN|lr-RUN|throughput-RUN|
// reasoning-length-RUN">, <table id="eval-table">, <section class="train-run|eval-run|samples" data-run="RUN">.
std::string RenderReportHtml(const ReportInputs& inputs, const ReportOptions& options);

// Renders and writes `path` temp-then-rename (creating its folder); on error nothing is left under `path`. An
// existing `path` that is a folder or not an HTML page is refused (FailedPrecondition / InvalidArgument), untouched.
absl::Status WriteReport(const ReportInputs& inputs, const ReportOptions& options, const std::string& path);

// ScanReportInputs, then WriteReport; returns what it read (for a summary). On any error nothing is written.
absl::StatusOr<ReportInputs> MakeReport(const std::vector<std::string>& dirs, const ReportOptions& options,
                                        const std::string& path);

// HTML-escapes text for element content and quoted attributes (& < > " ' and the ':' of "://", so that no input
// text puts a URL scheme into the file).
std::string HtmlEscape(const std::string& text);

}  // namespace distill::eval
