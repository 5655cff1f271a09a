// Grading of generated samples against a benchmark and the summary metrics of `distill eval` (pass@1, maj@n,
// unbiased pass@k, think-format / truncation / loop / language-mix rates, mean token counts, accuracy by
// difficulty). Plain C++: the answer graders and trace filters of data/.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "data/trace_filters.h"
#include "nlohmann/json.hpp"
#include "tools/eval/benchmark.h"

namespace distill::eval {

// One generation as a backend returns it.
//  - separated = false: `content` is the whole generated text, with inline <think>…</think>, or starting after a
//    "<think>\n" prefill so that only "</think>" appears; it is split with data::SplitThinkBlock.
//  - separated = true (endpoints with reasoning_content): `reasoning` and `content` come apart.
// Token counts are -1 when unknown (they are then left out of the means, never estimated).
struct SampleOutput {
  std::string reasoning;
  std::string content;
  bool separated = false;
  std::string finish_reason;  // "stop", "length", … ("" when unknown)
  int64_t reasoning_tokens = -1;
  int64_t answer_tokens = -1;
};

// One graded sample.
struct GradedSample {
  int item_index = 0;    // position in the benchmark
  int sample_index = 0;  // 0 … n-1 within the problem
  std::string reasoning;    // the think block (trimmed), or the reasoning_content of a separated sample
  std::string answer_text;  // what follows </think> (trimmed), or the content of a separated sample
  // The whole generated text, kept only for an inline sample whose think block is malformed (think_ok false),
  // where the split may drop text; "" otherwise.
  std::string raw;
  bool separated = false;
  std::string finish_reason;
  std::string extracted;  // ExtractFinalAnswer over answer_text (over the whole text when answer_text is empty)
  bool correct = false;   // AnswersEquivalent(extracted, truth); an empty extraction is wrong
  // Inline: SplitThinkBlock accepts the text (one closed, non-empty think block, nothing before <think>).
  // Separated: the reasoning is non-empty, the content has no think tags and the sample did not stop for
  // length before any content.
  bool think_ok = false;
  bool truncated = false;     // finish_reason == "length"
  bool loop = false;          // data::CheckRepetition rejects reasoning + answer
  bool language_mix = false;  // data::CheckLanguageMixing rejects reasoning + answer against the problem
  int64_t reasoning_tokens = -1;
  int64_t answer_tokens = -1;
};

// Grades one sample of `item` (see GradedSample for each field's rule).
GradedSample GradeSample(const BenchmarkItem& item, const SampleOutput& output, int item_index, int sample_index,
                         const data::FilterOptions& options = {});

// The answer that wins the majority vote among `samples` (one problem's samples in sample order) and the index
// of its first voter, or nullopt when no sample extracted anything. Extractions vote together when their
// NormalizeAnswer forms are equal or AnswersEquivalent holds either way (a sample joins the earliest group it
// matches); empty extractions do not vote; a tie goes to the group whose first vote came first.
struct MajorityVote {
  std::string answer;  // the first voter's extraction
  int first_sample = -1;
  int votes = 0;
};
std::optional<MajorityVote> MajorityAnswer(const std::vector<const GradedSample*>& samples);

// Unbiased pass@k estimator for one problem with n samples of which c are correct: 1 - C(n-c,k)/C(n,k),
// computed as 1 - Π_{i=n-c+1..n} (1 - k/i). Requires 1 <= k <= n and 0 <= c <= n.
double PassAtK(int n, int c, int k);

// Accuracy over the problems of one difficulty.
struct DifficultyMetrics {
  int64_t problems = 0;
  double pass_at_1 = 0;
  double maj_at_n = 0;
};

// Orders difficulty labels with digit runs compared as numbers ("level 2" < "level 10").
struct NaturalLess {
  bool operator()(const std::string& a, const std::string& b) const;
};

// Summary of an eval. Rates are shares of samples in [0, 1].
struct EvalMetrics {
  int64_t problems = 0;
  int64_t samples = 0;
  int samples_per_problem = 0;  // n
  double pass_at_1 = 0;         // mean over problems of correct / n
  double maj_at_n = 0;          // share of problems whose majority answer is correct
  std::map<int, double> pass_at_k;  // k → mean unbiased pass@k, for the requested k <= n
  double think_format_rate = 0;
  double truncation_rate = 0;
  double loop_rate = 0;
  double language_mix_rate = 0;
  // Means over the samples whose counts are known; nullopt when no sample has one.
  std::optional<double> mean_reasoning_tokens;
  std::optional<double> mean_answer_tokens;
  // Only when some item has a difficulty; items without one are listed under "(none)".
  std::map<std::string, DifficultyMetrics, NaturalLess> by_difficulty;
};

// Metrics of `graded` over `items`. Every problem must have the same number n >= 1 of samples, with sample
// indices 0 … n-1 each once, and item indices in range; ks must be >= 1 (those above n are left out).
absl::StatusOr<EvalMetrics> Summarize(const std::vector<BenchmarkItem>& items,
                                      const std::vector<GradedSample>& graded, const std::vector<int>& ks);

// JSON form: {"problems", "samples", "samples_per_problem", "pass@1", "maj@n", "pass@k": {"1": …},
// "think_format_rate", "truncation_rate", "loop_rate", "language_mix_rate", "mean_reasoning_tokens",
// "mean_answer_tokens" (null when unknown), "by_difficulty": {"level 1": {"problems", "pass@1", "maj@n"}, …}}.
nlohmann::json MetricsToJson(const EvalMetrics& metrics);

// Parses MetricsToJson's form; `where` prefixes errors (e.g. "run/eval.json: metrics").
absl::StatusOr<EvalMetrics> MetricsFromJson(const nlohmann::json& json, const std::string& where);

}  // namespace distill::eval
