#include "data/trace_filters.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "data/text_scan.h"

namespace distill::data {
namespace {

using text_scan::CodePointCount;
using text_scan::NextCodePoint;
using text_scan::Script;

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

FilterVerdict Reject(RejectReason reason, std::string detail) { return {reason, std::move(detail)}; }

std::string Percent(double share) {
  double pct = std::round(share * 1000.0) / 10.0;
  std::string s = std::to_string(pct);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s + "%";
}

// First `max_chars` bytes of `s` (cut back to a code point boundary), with "…" when shortened.
std::string Snippet(std::string_view s, size_t max_chars = 60) {
  s = Trim(s);
  if (s.size() <= max_chars) return std::string(s);
  size_t cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

// Script groups that may sit next to each other without counting as mixing.
bool Compatible(Script letter, Script dominant) {
  if (letter == dominant) return true;
  if (dominant == Script::kLatin && letter == Script::kGreek) return true;  // α, β, θ are math here
  bool cjk_letter = letter == Script::kHan || letter == Script::kKana;
  bool cjk_dominant = dominant == Script::kHan || dominant == Script::kKana;
  return cjk_letter && cjk_dominant;
}

struct ScriptCounts {
  std::array<int64_t, text_scan::kScriptCount> letters{};
  int64_t total = 0;
  Script Dominant() const {
    size_t best = 0;
    for (size_t i = 1; i < letters.size(); ++i) {
      if (letters[i] > letters[best]) best = i;
    }
    return letters[best] > 0 ? static_cast<Script>(best) : Script::kNone;
  }
};

// Letters by script in prose (math, LaTeX and code removed), skipping one-letter words of alphabetic scripts.
ScriptCounts CountScripts(std::string_view text) {
  std::string prose = text_scan::StripMathAndCode(text);
  ScriptCounts counts;
  std::vector<Script> word;
  auto flush = [&] {
    bool alphabetic_single = word.size() == 1 && text_scan::IsAlphabetic(word[0]);
    if (!alphabetic_single) {
      for (Script s : word) {
        ++counts.letters[static_cast<size_t>(s)];
        ++counts.total;
      }
    }
    word.clear();
  };
  size_t i = 0;
  while (i < prose.size()) {
    uint32_t cp = NextCodePoint(prose, &i);
    if (text_scan::IsLetter(cp)) {
      word.push_back(text_scan::ScriptOf(cp));
    } else if (!text_scan::IsMark(cp)) {
      flush();
    }
  }
  flush();
  return counts;
}

// Word tokens for repetition: lower-cased runs of letters/digits; each Han/Kana character is its own token.
std::vector<uint64_t> WordHashes(std::string_view text) {
  std::vector<uint64_t> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.push_back(Fnv1a64(word));
    word.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    uint32_t cp = NextCodePoint(text, &i);
    if (text_scan::IsLetter(cp) || text_scan::IsNumber(cp) || (text_scan::IsMark(cp) && !word.empty())) {
      Script s = text_scan::ScriptOf(cp);
      if (s == Script::kHan || s == Script::kKana) {
        flush();
        out.push_back(Fnv1a64(text.substr(start, i - start)));
        continue;
      }
      text_scan::AppendLower(cp, &word);
    } else {
      flush();
    }
  }
  flush();
  return out;
}

// Lines (or blank-line separated paragraphs when `paragraphs`) of `text`, trimmed, empty ones dropped.
std::vector<std::string_view> Units(std::string_view text, bool paragraphs) {
  std::vector<std::string_view> out;
  size_t start = 0;
  size_t i = 0;
  while (i <= text.size()) {
    size_t eol = text.find('\n', i);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(i, eol - i);
    bool boundary = !paragraphs || Trim(line).empty() || eol == text.size();
    if (boundary) {
      size_t end = (paragraphs && Trim(line).empty()) ? i : eol;
      std::string_view unit = Trim(text.substr(start, end - start));
      if (!unit.empty()) out.push_back(unit);
      start = eol + 1;
    }
    i = eol + 1;
  }
  return out;
}

// Paragraphs outside ``` fences: blank-line separated, fence lines end the current paragraph.
std::vector<std::string_view> ProseParagraphs(std::string_view text) {
  std::vector<std::string_view> out;
  bool in_fence = false;
  size_t para_start = std::string_view::npos;
  size_t para_end = 0;
  auto flush = [&] {
    if (para_start != std::string_view::npos) {
      std::string_view p = Trim(text.substr(para_start, para_end - para_start));
      if (!p.empty()) out.push_back(p);
    }
    para_start = std::string_view::npos;
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t eol = text.find('\n', i);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = Trim(text.substr(i, eol - i));
    if (line.substr(0, 3) == "```") {
      flush();
      in_fence = !in_fence;
    } else if (in_fence) {
      // code lines are not prose
    } else if (line.empty()) {
      flush();
    } else {
      if (para_start == std::string_view::npos) para_start = i;
      para_end = eol;
    }
    i = eol + 1;
  }
  flush();
  return out;
}

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kAccepted: return "accepted";
    case RejectReason::kNoThinkBlock: return "no_think_block";
    case RejectReason::kUnclosedThinkBlock: return "unclosed_think_block";
    case RejectReason::kTruncated: return "truncated";
    case RejectReason::kEmptyAnswer: return "empty_answer";
    case RejectReason::kLanguageMixing: return "language_mixing";
    case RejectReason::kRepetition: return "repetition";
    case RejectReason::kTooShort: return "too_short";
    case RejectReason::kTooLong: return "too_long";
    case RejectReason::kLongParagraph: return "long_paragraph";
    case RejectReason::kCodeBlock: return "code_block";
  }
  return "unknown";
}

ThinkSplit SplitThinkBlock(std::string_view content) {
  static constexpr std::string_view kOpen = "<think>";
  static constexpr std::string_view kClose = "</think>";
  ThinkSplit split;
  size_t open = content.find(kOpen);
  size_t close = content.find(kClose);
  if (close == std::string_view::npos) {
    if (open == std::string_view::npos) {
      split.answer = Trim(content);
      split.verdict = Reject(RejectReason::kNoThinkBlock, "no <think> block in the response");
    } else {
      split.reasoning = Trim(content.substr(open + kOpen.size()));
      split.verdict = Reject(RejectReason::kUnclosedThinkBlock, "<think> is never closed by </think>");
    }
    return split;
  }
  if (open != std::string_view::npos && open > close) {
    split.verdict = Reject(RejectReason::kNoThinkBlock, "</think> comes before <think>");
    return split;
  }
  if (open != std::string_view::npos && Trim(content.substr(0, open)).size() > 0) {
    split.verdict =
        Reject(RejectReason::kNoThinkBlock, "text before <think>: \"" + Snippet(content.substr(0, open)) + "\"");
    return split;
  }
  size_t body = open == std::string_view::npos ? 0 : open + kOpen.size();
  split.reasoning = Trim(content.substr(body, close - body));
  split.answer = Trim(content.substr(close + kClose.size()));
  if (split.reasoning.empty()) {
    split.verdict = Reject(RejectReason::kNoThinkBlock, "the <think> block is empty");
  } else if (split.answer.find(kOpen) != std::string_view::npos ||
             split.answer.find(kClose) != std::string_view::npos) {
    split.verdict = Reject(RejectReason::kNoThinkBlock, "more than one think block");
  }
  return split;
}

FilterVerdict CheckThinkTags(std::string_view content) { return SplitThinkBlock(content).verdict; }

FilterVerdict CheckFinishReason(std::string_view finish_reason) {
  if (finish_reason == "length") {
    return Reject(RejectReason::kTruncated, "finish_reason is \"length\": the response was cut off");
  }
  return {};
}

FilterVerdict CheckAnswerNotEmpty(std::string_view answer) {
  if (Trim(answer).empty()) return Reject(RejectReason::kEmptyAnswer, "the answer after the reasoning is empty");
  return {};
}

FilterVerdict CheckLanguageMixing(std::string_view text, std::string_view prompt, const FilterOptions& options) {
  ScriptCounts counts = CountScripts(text);
  if (counts.total == 0) return {};
  Script dominant = CountScripts(prompt).Dominant();
  if (dominant == Script::kNone) dominant = counts.Dominant();
  int64_t foreign = 0;
  size_t worst = 0;
  for (size_t s = 0; s < counts.letters.size(); ++s) {
    if (counts.letters[s] == 0 || Compatible(static_cast<Script>(s), dominant)) continue;
    foreign += counts.letters[s];
    if (worst == 0 || counts.letters[s] > counts.letters[worst]) worst = s;
  }
  double share = static_cast<double>(foreign) / static_cast<double>(counts.total);
  if (foreign >= options.min_foreign_letters && share > options.max_foreign_script_share) {
    return Reject(RejectReason::kLanguageMixing, Percent(share) + " of " + std::to_string(counts.total) +
                                                     " letters are not " +
                                                     std::string(text_scan::ScriptName(dominant)) + " (mostly " +
                                                     std::string(text_scan::ScriptName(static_cast<Script>(worst))) +
                                                     "); max " + Percent(options.max_foreign_script_share));
  }
  return {};
}

FilterVerdict CheckRepetition(std::string_view text, const FilterOptions& options) {
  for (bool paragraphs : {false, true}) {
    absl::flat_hash_map<std::string_view, int64_t> seen;
    for (std::string_view unit : Units(text, paragraphs)) {
      if (CodePointCount(unit) < options.min_repeated_unit_chars) continue;
      int64_t n = ++seen[unit];
      if (n > options.max_unit_repeats) {
        return Reject(RejectReason::kRepetition,
                      std::string(paragraphs ? "paragraph" : "line") + " repeated " + std::to_string(n) +
                          "+ times (max " + std::to_string(options.max_unit_repeats) + "): \"" + Snippet(unit) + "\"");
      }
    }
  }
  std::vector<uint64_t> words = WordHashes(text);
  const size_t n = static_cast<size_t>(std::max(1, options.ngram_size));
  if (static_cast<int64_t>(words.size()) < options.min_words_for_ngram || words.size() < n) return {};
  absl::flat_hash_set<uint64_t> distinct;
  size_t total = words.size() - n + 1;
  for (size_t i = 0; i < total; ++i) {
    std::string_view bytes(reinterpret_cast<const char*>(words.data() + i), n * sizeof(uint64_t));
    distinct.insert(Fnv1a64(bytes));
  }
  double share = static_cast<double>(total - distinct.size()) / static_cast<double>(total);
  if (share > options.max_repeated_ngram_share) {
    return Reject(RejectReason::kRepetition, Percent(share) + " of " + std::to_string(total) + " word " +
                                                 std::to_string(n) + "-grams repeat (max " +
                                                 Percent(options.max_repeated_ngram_share) + ")");
  }
  return {};
}

FilterVerdict CheckLength(std::string_view reasoning, std::optional<int64_t> reasoning_tokens,
                          const FilterOptions& options) {
  int64_t chars = CodePointCount(reasoning);
  if (options.min_reasoning_chars > 0 && chars < options.min_reasoning_chars) {
    return Reject(RejectReason::kTooShort, "reasoning has " + std::to_string(chars) + " characters (min " +
                                               std::to_string(options.min_reasoning_chars) + ")");
  }
  if (options.max_reasoning_chars > 0 && chars > options.max_reasoning_chars) {
    return Reject(RejectReason::kTooLong, "reasoning has " + std::to_string(chars) + " characters (max " +
                                              std::to_string(options.max_reasoning_chars) + ")");
  }
  if (reasoning_tokens) {
    int64_t tokens = *reasoning_tokens;
    if (options.min_reasoning_tokens > 0 && tokens < options.min_reasoning_tokens) {
      return Reject(RejectReason::kTooShort, "reasoning has " + std::to_string(tokens) + " tokens (min " +
                                                 std::to_string(options.min_reasoning_tokens) + ")");
    }
    if (options.max_reasoning_tokens > 0 && tokens > options.max_reasoning_tokens) {
      return Reject(RejectReason::kTooLong, "reasoning has " + std::to_string(tokens) + " tokens (max " +
                                                std::to_string(options.max_reasoning_tokens) + ")");
    }
  }
  return {};
}

FilterVerdict CheckParagraphs(std::string_view text, const FilterOptions& options) {
  if (options.max_paragraph_chars <= 0) return {};
  size_t index = 0;
  for (std::string_view p : ProseParagraphs(text)) {
    ++index;
    int64_t chars = CodePointCount(p);
    if (chars > options.max_paragraph_chars) {
      return Reject(RejectReason::kLongParagraph,
                    "paragraph " + std::to_string(index) + " has " + std::to_string(chars) + " characters (max " +
                        std::to_string(options.max_paragraph_chars) + "): \"" + Snippet(p) + "\"");
    }
  }
  return {};
}

FilterVerdict CheckCodeBlocks(std::string_view text, bool code_task, const FilterOptions& options) {
  if (code_task || !options.reject_code_blocks_in_non_code) return {};
  size_t fence = text.find("```");
  if (fence == std::string_view::npos) return {};
  size_t line_end = text.find('\n', fence);
  std::string_view info =
      text.substr(fence + 3, (line_end == std::string_view::npos ? text.size() : line_end) - fence - 3);
  return Reject(RejectReason::kCodeBlock, "fenced code block" +
                                              (Trim(info).empty() ? std::string() : " (" + Snippet(info, 20) + ")") +
                                              " in a non-code task");
}

bool LooksLikeCodeTask(std::string_view prompt) {
  if (prompt.find("```") != std::string_view::npos) return true;
  static constexpr std::array<std::string_view, 21> kWords = {
      "python", "java",  "javascript", "typescript", "rust",    "golang",      "c++",       "cpp",
      "sql",    "bash",  "code",       "coding",     "program", "programming", "implement", "implementation",
      "script", "stdin", "stdout",     "leetcode",   "function"};
  std::string lower;
  lower.reserve(prompt.size());
  for (char c : prompt) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  auto word_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '_'; };
  size_t i = 0;
  while (i < lower.size()) {
    if (!word_char(lower[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < lower.size() && word_char(lower[j])) ++j;
    std::string_view w(lower.data() + i, j - i);
    if (w == "function") {
      // "the function f(x)" is math; "write a function" / "implement a function" is code.
      std::string_view before(lower.data(), i);
      if (before.size() >= 8 && (before.substr(before.size() - 8) == "write a " ||
                                 (before.size() >= 11 && before.substr(before.size() - 11) == "implement a "))) {
        return true;
      }
    } else if (std::find(kWords.begin(), kWords.end(), w) != kWords.end()) {
      return true;
    }
    i = j;
  }
  return false;
}

std::vector<FilterVerdict> AllRejections(const TraceView& trace, const FilterOptions& options) {
  std::vector<FilterVerdict> out;
  auto add = [&](FilterVerdict v) {
    if (v.accepted()) return;
    for (const FilterVerdict& have : out) {
      if (have.reason == v.reason) return;
    }
    out.push_back(std::move(v));
  };
  std::string_view reasoning = trace.reasoning;
  std::string_view answer = trace.answer;
  if (!trace.raw_content.empty()) {
    ThinkSplit split = SplitThinkBlock(trace.raw_content);
    add(split.verdict);
    if (reasoning.empty()) reasoning = split.reasoning;
    if (answer.empty()) answer = split.answer;
  }
  add(CheckFinishReason(trace.finish_reason));
  add(CheckAnswerNotEmpty(answer));
  add(CheckLength(reasoning, trace.reasoning_tokens, options));
  add(CheckRepetition(reasoning, options));
  add(CheckRepetition(answer, options));
  std::string whole = std::string(reasoning) + "\n\n" + std::string(answer);
  add(CheckLanguageMixing(whole, trace.prompt, options));
  add(CheckParagraphs(reasoning, options));
  add(CheckParagraphs(answer, options));
  bool code_task = trace.code_task ? *trace.code_task : LooksLikeCodeTask(trace.prompt);
  add(CheckCodeBlocks(whole, code_task, options));
  return out;
}

FilterVerdict ApplyFilters(const TraceView& trace, const FilterOptions& options) {
  std::vector<FilterVerdict> all = AllRejections(trace, options);
  if (all.empty()) return {};
  return std::move(all.front());
}

}  // namespace distill::data
