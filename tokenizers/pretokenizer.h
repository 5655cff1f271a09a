// tokenizer.json "pre_tokenizer": Split (regex or literal, all HF split behaviours, invert), ByteLevel
// (add_prefix_space, use_regex with the GPT-2 pattern) and Digits, chained by Sequence. Regex patterns run on
// PCRE2 (UTF + UCP + JIT, with \s rewritten to Oniguruma's White_Space set); the Qwen2/3 and Llama 3 patterns are
// recognised and run on a hand-written scanner with identical results (pretokenizer_fast.cc).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace distill::tok {

using MatchList = std::vector<std::pair<uint32_t, uint32_t>>;  // [start, end) byte ranges

// A compiled split pattern. FindAll appends the non-overlapping, non-empty matches in `s` (valid UTF-8), left to
// right, as find_iter does.
class Regex {
 public:
  virtual ~Regex() = default;
  virtual void FindAll(std::string_view s, MatchList* out) const = 0;
  virtual std::string Describe() const = 0;
};

// Compiles an HF Split pattern: `literal` for {"String": …}, else an Oniguruma-style regex. Errors say why.
absl::StatusOr<std::unique_ptr<Regex>> CompileSplitPattern(std::string_view pattern, bool literal);
// Compiles an Oniguruma-style regex on PCRE2 only, never a specialised scanner (tests compare the two).
absl::StatusOr<std::unique_ptr<Regex>> CompilePcre2Pattern(std::string_view pattern);
// The specialised scanner for a known pattern, or nullptr (pretokenizer_fast.cc).
std::unique_ptr<Regex> MakeFastScanner(std::string_view pattern);
// The PCRE2 pattern an Oniguruma pattern becomes (\s and \S spelled out as White_Space). Exposed for tests.
std::string TranslateOnigPattern(std::string_view pattern);

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Per-call scratch space, reused across calls on one thread.
struct PreTokenizeScratch {
  std::vector<std::string_view> a, b;
  MatchList matches;
  std::deque<std::string> arena;  // texts made by add_prefix_space
};

class PreTokenizer {
 public:
  void AddSplit(std::shared_ptr<const Regex> regex, SplitBehavior behavior, bool invert);
  absl::Status AddByteLevel(bool add_prefix_space, bool use_regex);
  void AddDigits(bool individual_digits);
  bool empty() const { return steps_.empty(); }
  // Whether the last step is ByteLevel (the byte-level BPE model needs it: it maps text to bytes).
  bool ends_with_byte_level() const { return !steps_.empty() && steps_.back().kind == Step::kByteLevel; }

  // Splits `text` into non-empty pieces (views into `text` or into scratch->arena), appended to *pieces.
  void Run(std::string_view text, PreTokenizeScratch* scratch, std::vector<std::string_view>* pieces) const;

  std::string Describe() const;

 private:
  struct Step {
    enum Kind { kSplit, kByteLevel, kDigits } kind = kSplit;
    std::shared_ptr<const Regex> regex;  // kSplit; kByteLevel with use_regex
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;
    bool individual_digits = false;
  };
  std::vector<Step> steps_;
};

}  // namespace distill::tok
