// Trace filters for `distill verify` (DeepSeek-R1 style rejection sampling, DESIGN.md): each check looks at one
// property of a teacher trace and returns a reason code plus a human-readable detail when it rejects. Also the
// exact de-dup key and the 13-gram decontamination index against eval problems.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace distill::data {

// Why a trace was rejected (kAccepted when it was not).
enum class RejectReason {
  kAccepted,
  kNoThinkBlock,        // raw content has no <think>…</think> (or an empty one)
  kUnclosedThinkBlock,  // <think> opened but never closed
  kTruncated,           // finish_reason "length"
  kEmptyAnswer,         // nothing after the reasoning
  kLanguageMixing,      // too many letters in scripts unlike the prompt's
  kRepetition,          // repeated n-grams / lines / paragraphs (a loop)
  kTooShort,            // reasoning under the minimum length
  kTooLong,             // reasoning over the maximum length
  kLongParagraph,       // a paragraph longer than the readability limit
  kCodeBlock,           // a fenced code block in a non-code task
};

// Stable snake_case name of a reason ("accepted", "no_think_block", …) for JSONL and logs.
std::string_view RejectReasonName(RejectReason reason);

// Outcome of one filter: kAccepted, or the reason and a detail such as "38% of 8-grams repeat (max 30%)".
struct FilterVerdict {
  RejectReason reason = RejectReason::kAccepted;
  std::string detail;
  bool accepted() const { return reason == RejectReason::kAccepted; }
};

// Thresholds of every filter; the defaults are the verifier's defaults.
struct FilterOptions {
  // Language mixing: reject when foreign-script letters exceed this share of counted letters and this count.
  // Counted letters exclude LaTeX/math ($…$, \(…\), \[…\], \commands), code (``` fences, `inline`), digits and
  // one-letter words of alphabetic scripts (variables such as x or θ). Greek is never foreign next to Latin.
  double max_foreign_script_share = 0.02;
  int64_t min_foreign_letters = 10;
  // Repetition: word n-grams (CJK characters count as words); reject when the share of n-gram occurrences
  // that repeat an earlier one exceeds max_repeated_ngram_share (checked once the text has min_words_for_ngram
  // words), or when any line / paragraph of at least min_repeated_unit_chars characters occurs more than
  // max_unit_repeats times.
  int ngram_size = 8;
  double max_repeated_ngram_share = 0.3;
  int64_t min_words_for_ngram = 64;
  int64_t max_unit_repeats = 10;
  int64_t min_repeated_unit_chars = 24;
  // Length bounds of the reasoning, in Unicode code points and (when the caller supplies a count) tokens;
  // 0 disables a bound.
  int64_t min_reasoning_chars = 1;
  int64_t max_reasoning_chars = 0;
  int64_t min_reasoning_tokens = 0;
  int64_t max_reasoning_tokens = 32768;
  // Readability: longest paragraph (blank-line separated, outside code fences) in code points, 0 = off.
  int64_t max_paragraph_chars = 4000;
  // Reject ``` fenced code blocks in reasoning or answer when the task is not a code task.
  bool reject_code_blocks_in_non_code = true;
};

// One trace as the filters see it. When `raw_content` is non-empty it is the response with inline
// <think>…</think> tags; the tag check runs on it and it supplies reasoning/answer where those are empty.
struct TraceView {
  std::string_view reasoning;
  std::string_view answer;
  std::string_view finish_reason;
  std::string_view prompt;
  std::string_view raw_content;
  std::optional<int64_t> reasoning_tokens;  // from the tokenizer or usage, when known
  std::optional<bool> code_task;            // unset: guessed from the prompt with LooksLikeCodeTask
};

// Reasoning and answer split out of a response with inline think tags.
struct ThinkSplit {
  std::string_view reasoning;  // between <think> and </think>, trimmed
  std::string_view answer;     // after </think>, trimmed
  FilterVerdict verdict;       // kNoThinkBlock / kUnclosedThinkBlock when the tags are missing or broken
};

// Splits `content` at <think>…</think>; a missing opening tag is allowed when </think> is present (R1 templates
// put "<think>\n" in the prompt).
ThinkSplit SplitThinkBlock(std::string_view content);

// kNoThinkBlock / kUnclosedThinkBlock when `content`'s think tags are missing, empty or unclosed.
FilterVerdict CheckThinkTags(std::string_view content);

// kTruncated when finish_reason is "length".
FilterVerdict CheckFinishReason(std::string_view finish_reason);

// kEmptyAnswer when the answer is only whitespace.
FilterVerdict CheckAnswerNotEmpty(std::string_view answer);

// kLanguageMixing when `text` has too many letters in scripts unlike the prompt's dominant script (the
// text's own dominant script when the prompt has no letters).
FilterVerdict CheckLanguageMixing(std::string_view text, std::string_view prompt, const FilterOptions& options);

// kRepetition when `text` loops: repeated word n-grams, lines or paragraphs above the thresholds.
FilterVerdict CheckRepetition(std::string_view text, const FilterOptions& options);

// kTooShort / kTooLong when the reasoning is outside the character or token bounds.
FilterVerdict CheckLength(std::string_view reasoning, std::optional<int64_t> reasoning_tokens,
                          const FilterOptions& options);

// kLongParagraph when a paragraph of `text` (outside code fences) exceeds max_paragraph_chars.
FilterVerdict CheckParagraphs(std::string_view text, const FilterOptions& options);

// kCodeBlock when `text` contains a ``` fenced block and the task is not a code task.
FilterVerdict CheckCodeBlocks(std::string_view text, bool code_task, const FilterOptions& options);

// Heuristic: the prompt asks for code (mentions a programming language, "write a function/program", a fence).
bool LooksLikeCodeTask(std::string_view prompt);

// Runs every filter in a fixed order (tags, finish reason, empty answer, length, repetition, language mixing,
// paragraphs, code blocks) and returns the first rejection, or kAccepted.
FilterVerdict ApplyFilters(const TraceView& trace, const FilterOptions& options = {});

// Every rejection of `trace` (empty when it passes), for reports that count all reasons.
std::vector<FilterVerdict> AllRejections(const TraceView& trace, const FilterOptions& options = {});

// ---------------------------------------------------------------------------------------------------------------
// De-duplication and decontamination.

// Text normalised for exact de-dup: Unicode lower-case; punctuation, symbols and whitespace runs become one
// space; control characters dropped; trimmed. "Hello,  World!" and "hello world" give the same string.
std::string NormalizeForDedup(std::string_view text);

// 64-bit FNV-1a of NormalizeForDedup(text): equal keys mean duplicate texts (up to hash collisions).
uint64_t DedupKey(std::string_view text);

// FNV-1a 64 of raw bytes (the hash behind DedupKey and the n-gram index).
uint64_t Fnv1a64(std::string_view bytes, uint64_t seed = 0xcbf29ce484222325ULL);

// Normalised words of `text` (NormalizeForDedup split on spaces; each CJK character is its own word).
std::vector<std::string> NormalizedWords(std::string_view text);

// Index of word n-grams (default 13) of eval problem texts. An eval text with fewer than n words (but at least
// min_short_words) is indexed whole and matches a prompt that contains all of its words in a row.
struct NgramIndex {
  int n = 13;
  int min_short_words = 6;
  absl::flat_hash_map<uint64_t, int64_t> ngrams;       // n-gram hash → first source id
  absl::flat_hash_map<uint64_t, int64_t> short_texts;  // hash of a whole short text's words → source id
  std::vector<int> short_lengths;                      // distinct word counts present in short_texts, sorted
};

// Adds the n-grams of one eval text under `source_id`.
void AddToNgramIndex(NgramIndex* index, std::string_view text, int64_t source_id);

// Builds an index over `texts`; source ids are the positions in `texts`.
NgramIndex BuildNgramIndex(const std::vector<std::string>& texts, int n = 13);

// Where a prompt overlaps an eval text.
struct ContaminationHit {
  int64_t source_id = -1;
  std::string ngram;  // the shared n-gram (normalised words joined by spaces), or the whole short text
};

// The first n-gram of `prompt` found in the index (or a whole short eval text equal to the prompt), else nullopt.
std::optional<ContaminationHit> FindContamination(const NgramIndex& index, std::string_view prompt);

}  // namespace distill::data
