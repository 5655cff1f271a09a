// Eval benchmarks: our JSONL benchmark format and a converter from common public exports (docs/formats.md,
// "Eval benchmarks and eval run folders").
//
// Our format, one JSON object per line (blank lines skipped, unknown keys ignored):
//   {"id": "p1", "problem": "What is 2+3?", "answer": "5", "difficulty": "easy"}
//   - "problem": string, required, non-empty;
//   - "answer": string (non-empty) or number, required; a number is kept as its decimal text (42, 0.5);
//   - "id": string (non-empty) or integer, optional, default the 1-based line number; ids must be unique;
//   - "difficulty": string or number, optional (a number becomes its decimal text); "" when absent.
//
// Converter input layouts (JSONL, or one JSON array of such objects):
//   - "math500" (HuggingFaceH4/MATH-500): {"problem", "solution", "answer", "subject", "level": 3,
//     "unique_id": "test/precalculus/807.json"} → id = unique_id, difficulty = "level 3" (a "Level 3" string
//     becomes "level 3"); solution and subject are dropped.
//   - "aime" (AI-MO/aimo-validation-aime: {"id", "problem", "solution", "answer", "url"}; Maxwell-Jia/AIME_2024:
//     {"ID", "Problem", "Solution", "Answer"}; also "question"/"Question"): the id, problem and answer keys in
//     any of those spellings; a numeric answer becomes its text; "difficulty" is kept when present (so a file
//     already in our format converts to itself).
//   - "gsm8k" (openai/gsm8k: {"question", "answer": "…worked solution…\n#### 1,234"}): problem = question,
//     answer = the text after the last "####", trimmed, with thousands commas removed ("1,234" → "1234");
//     id = the line (or array element) number.
//   - "auto": decided from the first record's keys: "unique_id" or "level" → math500; "question" with a string
//     answer containing "####" → gsm8k; any problem/question key with an answer key → aime.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace distill::eval {

// One benchmark problem with its ground-truth answer.
struct BenchmarkItem {
  std::string id;
  std::string problem;
  std::string answer;
  std::string difficulty;  // "" when the benchmark gives none
};

// Reads a benchmark in our JSONL format. Errors name "FILE:LINE" and what was expected; a duplicate id names
// both lines. An empty benchmark (no records) is an error.
absl::StatusOr<std::vector<BenchmarkItem>> ReadBenchmark(const std::string& path);

// What ConvertBenchmark did.
struct ConvertReport {
  std::string format;  // the layout used ("math500", "aime", "gsm8k"), the detected one for "auto"
  int64_t items = 0;   // records written
};

// Converts a public benchmark export `in` (layout `format`: "math500", "aime", "gsm8k" or "auto") to our
// format at `out`, written temp-then-rename. Any malformed record fails the whole conversion, naming
// "FILE:LINE" (or "FILE: element N" for a JSON array); `out` must differ from `in`.
absl::StatusOr<ConvertReport> ConvertBenchmark(const std::string& in, const std::string& format,
                                               const std::string& out);

// The benchmark line for `item` (no trailing newline): "id", "problem", "answer" and, when set, "difficulty".
std::string BenchmarkItemToJsonLine(const BenchmarkItem& item);

}  // namespace distill::eval
