// A hand-written scanner for the cl100k-style split pattern used by Qwen2/2.5/3 (\p{N}) and Llama 3.x
// (\p{N}{1,3}). It reproduces Oniguruma's leftmost-first backtracking result for exactly these patterns:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Every character falls in some alternative, so the matches tile the input.
#include <cstring>
#include <vector>

#include "tokenizers/pretokenizer.h"
#include "tokenizers/utf8.h"

namespace distill::tok {
namespace {

constexpr std::string_view kQwenPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// Per-character flags: the utf8 classes plus these.
constexpr uint8_t kNewline = 64;  // \r or \n
constexpr uint8_t kAsciiSpace = 128;  // ' '
constexpr uint8_t kL = utf8::kLetter, kN = utf8::kNumber, kS = utf8::kSpace;

struct AsciiTable {
  uint8_t t[128];
  AsciiTable() {
    for (uint32_t c = 0; c < 128; ++c) t[c] = utf8::Classes(c);
    t['\r'] |= kNewline;
    t['\n'] |= kNewline;
    t[' '] |= kAsciiSpace;
  }
};

inline bool IsOther(uint8_t f) { return (f & (kL | kN | kS)) == 0; }  // [^\s\p{L}\p{N}]

class Cl100kScanner : public Regex {
 public:
  Cl100kScanner(int max_digits, std::string_view pattern) : max_digits_(max_digits), pattern_(pattern) {}

  void FindAll(std::string_view s, MatchList* out) const override {
    static const AsciiTable ascii;
    thread_local std::vector<uint8_t> flags;
    thread_local std::vector<uint32_t> offs;
    // Decode once: flags and byte offset per character.
    const size_t nbytes = s.size();
    flags.resize(nbytes + 1);
    offs.resize(nbytes + 1);
    size_t n = 0;
    for (size_t i = 0; i < nbytes;) {
      const auto b = static_cast<unsigned char>(s[i]);
      offs[n] = static_cast<uint32_t>(i);
      if (b < 0x80) {
        flags[n++] = ascii.t[b];
        ++i;
      } else {
        int len;
        const uint32_t cp = utf8::Decode(s.data() + i, &len);
        flags[n++] = utf8::Classes(cp);
        i += static_cast<size_t>(len);
      }
    }
    offs[n] = static_cast<uint32_t>(nbytes);
    const uint8_t* f = flags.data();
    const char* d = s.data();

    size_t i = 0;
    while (i < n) {
      const size_t j = MatchAt(d, f, offs.data(), i, n);
      out->emplace_back(offs[i], offs[j]);
      i = j;
    }
  }

  std::string Describe() const override { return max_digits_ == 1 ? "fast:qwen2" : "fast:llama3"; }

 private:
  // Lower-cased ASCII letter of character k if it is a single ASCII byte; 's' also for U+017F (long s, which
  // case-folds to 's'); 0 otherwise.
  static char Folded(const char* d, const uint32_t* offs, size_t k, size_t n) {
    if (k >= n) return 0;
    const size_t len = offs[k + 1] - offs[k];
    const char* p = d + offs[k];
    if (len == 1) {
      const char c = *p;
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    if (len == 2 && static_cast<unsigned char>(p[0]) == 0xC5 && static_cast<unsigned char>(p[1]) == 0xBF) return 's';
    return 0;
  }

  // End (character index) of the match starting at character i.
  size_t MatchAt(const char* d, const uint8_t* f, const uint32_t* offs, size_t i, size_t n) const {
    const uint8_t c = f[i];
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (offs[i + 1] - offs[i] == 1 && d[offs[i]] == '\'' && i + 1 < n) {
      const char a = Folded(d, offs, i + 1, n);
      if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
      const char b = Folded(d, offs, i + 2, n);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (c & kL) {
      size_t j = i + 1;
      while (j < n && (f[j] & kL)) ++j;
      return j;
    }
    if (!(c & (kN | kNewline)) && i + 1 < n && (f[i + 1] & kL)) {
      size_t j = i + 2;
      while (j < n && (f[j] & kL)) ++j;
      return j;
    }
    // \p{N}{1,max}
    if (c & kN) {
      size_t j = i + 1;
      while (j < n && j - i < static_cast<size_t>(max_digits_) && (f[j] & kN)) ++j;
      return j;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if (IsOther(c) || ((c & kAsciiSpace) && i + 1 < n && IsOther(f[i + 1]))) {
      size_t j = i + 1;
      while (j < n && IsOther(f[j])) ++j;
      while (j < n && (f[j] & kNewline)) ++j;
      return j;
    }
    // c is whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
    size_t k = i;
    size_t last_newline = n;
    while (k < n && (f[k] & kS)) {
      if (f[k] & kNewline) last_newline = k;
      ++k;
    }
    if (last_newline != n) return last_newline + 1;
    if (k == n) return k;
    if (k - i >= 2) return k - 1;
    return i + 1;
  }

  int max_digits_;
  std::string pattern_;
};

}  // namespace

std::unique_ptr<Regex> MakeFastScanner(std::string_view pattern) {
  if (pattern == kQwenPattern) return std::make_unique<Cl100kScanner>(1, pattern);
  if (pattern == kLlama3Pattern) return std::make_unique<Cl100kScanner>(3, pattern);
  return nullptr;
}

}  // namespace distill::tok
