// `distill verify`: rejection sampling of teacher traces (DESIGN.md). Each trace is graded against its ground
// truth (when it has one), run through the trace filters (data/trace_filters.h), checked for exact duplicates
// and for 13-gram overlap with eval problems; accepted and rejected traces go to separate JSONL files, each line
// the input trace plus a "verify" object (docs/formats.md). Also usable inline: the collector can call
// VerifyTrace or a Verifier on each TraceRecord as it arrives.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "data/trace_filters.h"
#include "data/trace_record.h"
#include "nlohmann/json.hpp"

namespace distill::data {

// Reject codes verify adds to the filters' (RejectReasonName) codes.
inline constexpr std::string_view kWrongAnswer = "wrong_answer";       // graded and not equivalent
inline constexpr std::string_view kNoGroundTruth = "no_ground_truth";  // only with require_ground_truth
inline constexpr std::string_view kContaminated = "contaminated";      // prompt overlaps an eval problem
inline constexpr std::string_view kDuplicate = "duplicate";            // same normalised text as an earlier accept

// Every reject code, in the order reports list them.
const std::vector<std::string>& AllRejectCodes();

enum class CodeTaskMode { kAuto, kAlways, kNever };

struct VerifyOptions {
  FilterOptions filters;
  bool grade = true;                  // grade answers against ground_truth when a trace has one
  bool require_ground_truth = false;  // reject traces without ground truth (kNoGroundTruth)
  bool dedup = true;                  // exact de-dup on normalised prompt + reasoning + answer (Verifier only)
  // Code-block filter: kAuto asks the trace's extra.code_task (a boolean) and else LooksLikeCodeTask(prompt).
  CodeTaskMode code_task = CodeTaskMode::kAuto;
  bool use_usage_reasoning_tokens = true;  // usage.reasoning_tokens feeds the token length bounds
  std::vector<std::string> ignore;         // reject codes that do not reject (dropped from verdicts)
};

// One reason a trace was rejected.
struct VerifyReason {
  std::string code;    // RejectReasonName(...) or one of the k* codes above
  std::string detail;  // human-readable, e.g. "answer \"12\" (boxed) does not match ground truth \"13\""
};

struct TraceVerdict {
  std::vector<VerifyReason> reasons;  // empty: accepted; else in check order (reasons[0] is the primary one)
  bool graded = false;                // answer compared with ground truth
  std::optional<bool> correct;        // set when graded
  std::string extracted_answer;       // final answer pulled from the trace's answer (when graded)
  std::string answer_source;          // AnswerSourceName (when graded)
  std::string note;                   // why not graded, when it was not
  bool accepted() const { return reasons.empty(); }
  bool HasReason(std::string_view code) const;
};

// Eval problems to decontaminate against: an n-gram index plus a "file:line" label per indexed text.
struct EvalSet {
  NgramIndex index;
  std::vector<std::string> sources;  // source id → "file:line"
  std::vector<std::string> files;
};

// Adds one eval text under `source` ("file:line" or any label).
void AddEvalText(EvalSet* eval, std::string_view text, std::string source);

// Loads eval JSONL files (each line an object with a string "problem" or "prompt"; a "prompt" may also be a
// messages array, whose user turns count). Blank lines are skipped; anything else malformed is an error naming
// file:line.
absl::StatusOr<EvalSet> LoadEvalSet(const std::vector<std::string>& files, int ngram = 13);

// Checks one trace: think block (empty reasoning counts as no think block; when the reasoning is empty and the
// answer holds inline <think>…</think> tags, they are split out first), filters, grading, decontamination
// (when `eval` is given). Stateless, so no de-dup; see Verifier.
TraceVerdict VerifyTrace(const TraceRecord& trace, const VerifyOptions& options, const EvalSet* eval = nullptr);

// The 64-bit exact de-dup key of a trace: normalised prompt text, reasoning and answer.
uint64_t TraceDedupKey(const TraceRecord& trace);

// VerifyTrace plus exact de-dup against the traces this Verifier accepted before (first one kept). Memory: one
// 64-bit key and a line number per accepted trace. Not thread-safe.
class Verifier {
 public:
  explicit Verifier(VerifyOptions options, EvalSet eval = {});
  // `line` (input line number, or any id) is named in later duplicates' details; 0 = unknown.
  TraceVerdict Verify(const TraceRecord& trace, int64_t line = 0);
  const VerifyOptions& options() const { return options_; }

 private:
  VerifyOptions options_;
  EvalSet eval_;
  absl::flat_hash_map<uint64_t, int64_t> accepted_keys_;
};

// The "verify" object written on accepted and rejected lines.
nlohmann::json VerdictToJson(const TraceVerdict& verdict, int64_t line);

// ---------------------------------------------------------------------------------------------------------------
// Streaming over files.

struct VerifyPaths {
  std::string input;     // traces JSONL
  std::string accepted;  // accepted JSONL (written temp-then-rename)
  std::string rejected;  // rejected JSONL
  std::string report;    // counts JSON; empty = not written
};

struct VerifyCounts {
  int64_t lines = 0;      // lines read, blank ones included
  int64_t traces = 0;     // well-formed traces
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t malformed = 0;  // lines skipped: bad JSON, bad UTF-8 or not a valid trace
  int64_t graded = 0;
  int64_t correct = 0;
  int64_t ungraded = 0;
  std::map<std::string, int64_t> reasons;        // code → rejected traces carrying it
  std::map<std::string, int64_t> first_reasons;  // code → rejected traces whose primary reason it is
  std::vector<std::pair<int64_t, std::string>> malformed_lines;  // (line, error), the first kMaxMalformedListed
  static constexpr size_t kMaxMalformedListed = 1000;
};

// Reads `paths.input` line by line (memory bounded by the longest line and the de-dup keys), verifies each
// trace, writes accepted/rejected lines in input order and the report. Malformed lines are skipped and counted.
// Errors: unreadable input, unwritable outputs (no output is left under its final name then).
absl::StatusOr<VerifyCounts> RunVerify(const VerifyPaths& paths, const VerifyOptions& options,
                                       EvalSet eval = {}, const nlohmann::json& report_extra = {});

// The report JSON: counts, reasons, malformed lines; `extra` fields are merged in (paths, config).
nlohmann::json CountsToJson(const VerifyCounts& counts, const nlohmann::json& extra = {});

// Table of reject counts per reason plus a totals line, for the terminal.
std::string FormatCountsTable(const VerifyCounts& counts);

}  // namespace distill::data
