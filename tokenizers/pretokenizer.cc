#include "tokenizers/pretokenizer.h"

#include <algorithm>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tokenizers/utf8.h"

namespace distill::tok {
namespace {

// Oniguruma's \s in Unicode mode is the White_Space property; PCRE2's UCP \s differs (it adds U+180E).
constexpr std::string_view kWhiteSpaceItems =
    "\\t-\\r\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}";

constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
struct JitStackDeleter {
  void operator()(pcre2_jit_stack* s) const { pcre2_jit_stack_free(s); }
};
struct ContextDeleter {
  void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
};

// Per-thread PCRE2 match state (one ovector pair is enough: only the whole match is used).
struct ThreadMatchState {
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> data{pcre2_match_data_create(1, nullptr)};
  std::unique_ptr<pcre2_jit_stack, JitStackDeleter> stack{pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr)};
  std::unique_ptr<pcre2_match_context, ContextDeleter> context{pcre2_match_context_create(nullptr)};
  ThreadMatchState() { pcre2_jit_stack_assign(context.get(), nullptr, stack.get()); }
};

class Pcre2Regex : public Regex {
 public:
  Pcre2Regex(pcre2_code* code, std::string source, bool jit) : code_(code), source_(std::move(source)), jit_(jit) {}
  ~Pcre2Regex() override { pcre2_code_free(code_); }

  void FindAll(std::string_view s, MatchList* out) const override {
    thread_local ThreadMatchState state;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    size_t pos = 0;
    while (pos <= s.size()) {
      const int rc = jit_ ? pcre2_jit_match(code_, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, state.data.get(),
                                            state.context.get())
                          : pcre2_match(code_, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, state.data.get(),
                                        state.context.get());
      if (rc < 0) break;  // no match (or a resource limit: treat the rest as unmatched)
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data.get());
      const size_t start = ov[0], end = ov[1];
      if (end > start) {
        out->emplace_back(static_cast<uint32_t>(start), static_cast<uint32_t>(end));
        pos = end;
      } else {  // empty match: step over one character
        if (start >= s.size()) break;
        pos = start + static_cast<size_t>(utf8::SeqLen(static_cast<unsigned char>(s[start])));
      }
    }
  }
  std::string Describe() const override { return absl::StrCat("pcre2:", source_); }

 private:
  pcre2_code* code_;
  std::string source_;
  bool jit_;
};

absl::StatusOr<std::unique_ptr<Regex>> CompilePcre2(std::string_view pattern, uint32_t extra_options) {
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  const std::string translated = extra_options & PCRE2_LITERAL ? std::string(pattern) : TranslateOnigPattern(pattern);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | (extra_options & PCRE2_LITERAL ? 0u : PCRE2_UCP) | extra_options, &err, &err_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return absl::InvalidArgumentError(
        absl::StrCat("cannot compile pattern '", std::string(pattern), "': ", reinterpret_cast<const char*>(msg)));
  }
  const bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return std::unique_ptr<Regex>(new Pcre2Regex(code, std::string(pattern), jit));
}

// Appends the pieces of `s` that HF's split(pattern, behavior) keeps, given the pattern's matches.
void ApplyBehavior(std::string_view s, const MatchList& matches, SplitBehavior behavior, bool invert,
                   std::vector<std::string_view>* out) {
  struct Seg {
    uint32_t start, end;
    bool is_match;
  };
  // Interleave gaps and matches, then fold them like tokenizers::normalizer::NormalizedString::split.
  thread_local std::vector<Seg> segs;
  segs.clear();
  uint32_t prev = 0;
  for (const auto& [start, end] : matches) {
    if (prev != start) segs.push_back({prev, start, invert});
    segs.push_back({start, end, !invert});
    prev = end;
  }
  if (prev != s.size()) segs.push_back({prev, static_cast<uint32_t>(s.size()), invert});

  thread_local std::vector<std::pair<uint32_t, uint32_t>> kept;
  kept.clear();
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Seg& g : segs) kept.emplace_back(g.start, g.end);
      break;
    case SplitBehavior::kRemoved:
      for (const Seg& g : segs) {
        if (!g.is_match) kept.emplace_back(g.start, g.end);
      }
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Seg& g : segs) {
        if (g.is_match && !previous_match && !kept.empty()) {
          kept.back().second = g.end;
        } else {
          kept.emplace_back(g.start, g.end);
        }
        previous_match = g.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (size_t k = segs.size(); k-- > 0;) {
        const Seg& g = segs[k];
        if (g.is_match && !previous_match && !kept.empty()) {
          kept.back().first = g.start;
        } else {
          kept.emplace_back(g.start, g.end);
        }
        previous_match = g.is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Seg& g : segs) {
        if (g.is_match == previous_match && !kept.empty()) {
          kept.back().second = g.end;
        } else {
          kept.emplace_back(g.start, g.end);
        }
        previous_match = g.is_match;
      }
      break;
    }
  }
  for (const auto& [start, end] : kept) {
    if (end > start) out->push_back(s.substr(start, end - start));
  }
}

}  // namespace

std::string TranslateOnigPattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      if (e == 's') {
        if (in_class) {
          out += kWhiteSpaceItems;
        } else {
          absl::StrAppend(&out, "[", std::string(kWhiteSpaceItems), "]");
        }
      } else if (e == 'S' && !in_class) {
        absl::StrAppend(&out, "[^", std::string(kWhiteSpaceItems), "]");
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Regex>> CompilePcre2Pattern(std::string_view pattern) {
  return CompilePcre2(pattern, 0);
}

absl::StatusOr<std::unique_ptr<Regex>> CompileSplitPattern(std::string_view pattern, bool literal) {
  if (literal) {
    if (pattern.empty()) return absl::InvalidArgumentError("empty split string");
    return CompilePcre2(pattern, PCRE2_LITERAL);
  }
  if (auto fast = MakeFastScanner(pattern)) return fast;
  return CompilePcre2(pattern, 0);
}

void PreTokenizer::AddSplit(std::shared_ptr<const Regex> regex, SplitBehavior behavior, bool invert) {
  Step s;
  s.kind = Step::kSplit;
  s.regex = std::move(regex);
  s.behavior = behavior;
  s.invert = invert;
  steps_.push_back(std::move(s));
}

absl::Status PreTokenizer::AddByteLevel(bool add_prefix_space, bool use_regex) {
  Step s;
  s.kind = Step::kByteLevel;
  s.add_prefix_space = add_prefix_space;
  if (use_regex) {
    auto re = CompileSplitPattern(kGpt2Pattern, false);
    if (!re.ok()) return re.status();
    s.regex = std::shared_ptr<const Regex>(std::move(*re));
  }
  steps_.push_back(std::move(s));
  return absl::OkStatus();
}

void PreTokenizer::AddDigits(bool individual_digits) {
  Step s;
  s.kind = Step::kDigits;
  s.individual_digits = individual_digits;
  steps_.push_back(std::move(s));
}

void PreTokenizer::Run(std::string_view text, PreTokenizeScratch* scratch, std::vector<std::string_view>* pieces) const {
  if (text.empty()) return;
  if (steps_.empty()) {
    pieces->push_back(text);
    return;
  }
  std::vector<std::string_view>* cur = &scratch->a;
  std::vector<std::string_view>* next = &scratch->b;
  cur->clear();
  cur->push_back(text);
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& step = steps_[k];
    const bool last = k + 1 == steps_.size();
    std::vector<std::string_view>* dst = last ? pieces : next;
    if (!last) dst->clear();
    for (std::string_view piece : *cur) {
      MatchList& m = scratch->matches;
      m.clear();
      switch (step.kind) {
        case Step::kSplit:
          step.regex->FindAll(piece, &m);
          ApplyBehavior(piece, m, step.behavior, step.invert, dst);
          break;
        case Step::kByteLevel:
          if (step.add_prefix_space && piece.front() != ' ') {
            std::string& owned = scratch->arena.emplace_back();
            owned.reserve(piece.size() + 1);
            owned.push_back(' ');
            owned.append(piece.data(), piece.size());
            piece = owned;
          }
          if (step.regex) {
            step.regex->FindAll(piece, &m);
            ApplyBehavior(piece, m, SplitBehavior::kIsolated, false, dst);
          } else {
            dst->push_back(piece);
          }
          break;
        case Step::kDigits:
          for (size_t i = 0; i < piece.size();) {
            int len;
            const uint32_t cp = utf8::Decode(piece.data() + i, &len);
            if (utf8::Classes(cp) & utf8::kNumber) m.emplace_back(i, i + len);
            i += static_cast<size_t>(len);
          }
          ApplyBehavior(piece, m, step.individual_digits ? SplitBehavior::kIsolated : SplitBehavior::kContiguous,
                        false, dst);
          break;
      }
    }
    if (!last) std::swap(cur, next);
  }
}

std::string PreTokenizer::Describe() const {
  std::string s;
  for (const Step& step : steps_) {
    if (!s.empty()) s += ",";
    switch (step.kind) {
      case Step::kSplit: s += "split"; break;
      case Step::kByteLevel: s += step.regex ? "bytelevel+regex" : "bytelevel"; break;
      case Step::kDigits: s += "digits"; break;
    }
  }
  return s;
}

}  // namespace distill::tok
