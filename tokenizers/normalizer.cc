#include "tokenizers/normalizer.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "tokenizers/utf8.h"
#include "utf8proc.h"

namespace distill::tok {
namespace {

constexpr uint32_t kQuickLimit = 0x30000;

// nfc_stable[cp]: a code point that NFC leaves alone whatever its neighbours are: a starter (ccc 0) that is its
// own NFC and never composes with a preceding character. Text made only of such code points is already NFC.
const std::vector<bool>& NfcStable() {
  static const std::vector<bool>* table = [] {
    auto* t = new std::vector<bool>(kQuickLimit, true);
    for (uint32_t cp = 0x300; cp < kQuickLimit; ++cp) {
      const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
      bool stable = p->combining_class == 0 && !(p->comb_index != UINT16_MAX && p->comb_index >= 0x8000) &&
                    !(cp >= 0x1160 && cp <= 0x11FF);
      if (stable && p->decomp_seqindex != UINT16_MAX) {
        utf8proc_uint8_t buf[8];
        const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
        utf8proc_uint8_t* res = nullptr;
        const utf8proc_ssize_t m =
            utf8proc_map(buf, n, &res, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
        stable = m == n && std::string_view(reinterpret_cast<char*>(res), static_cast<size_t>(m)) ==
                               std::string_view(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
        std::free(res);
      }
      (*t)[cp] = stable;
    }
    return t;
  }();
  return *table;
}

bool IsStable(const std::vector<bool>& stable, uint32_t cp) { return cp < kQuickLimit && stable[cp]; }

bool NfcQuickYes(std::string_view s) {
  const std::vector<bool>& stable = NfcStable();
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    const auto b = static_cast<unsigned char>(*p);
    if (b < 0xCC) {  // below U+0300
      p += utf8::SeqLen(b);
      continue;
    }
    int len;
    const uint32_t cp = utf8::Decode(p, &len);
    if (!IsStable(stable, cp)) return false;
    p += len;
  }
  return true;
}

std::string MapWithUtf8proc(std::string_view s, utf8proc_option_t options) {
  utf8proc_uint8_t* res = nullptr;
  const utf8proc_ssize_t m = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                          static_cast<utf8proc_ssize_t>(s.size()), &res, options);
  if (m < 0) return std::string(s);  // cannot happen on valid UTF-8; keep the text as is
  std::string out(reinterpret_cast<char*>(res), static_cast<size_t>(m));
  std::free(res);
  return out;
}

// NFC that only hands utf8proc the regions around unstable code points: a stable code point is a boundary that
// composition and reordering never cross, so text between such boundaries normalizes independently.
bool NfcLocal(std::string_view s, std::string* out) {
  const std::vector<bool>& stable = NfcStable();
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  std::string result;
  size_t copied = 0;       // s[0, copied) is already in result
  size_t last_stable = 0;  // start of the last stable code point seen (a safe region start)
  size_t i = 0;
  bool changed = false;
  while (i < s.size()) {
    int len;
    const auto b = static_cast<unsigned char>(s[i]);
    const uint32_t cp = b < 0x80 ? b : utf8::Decode(s.data() + i, &len);
    if (b < 0x80) len = 1;
    if (b < 0xCC || IsStable(stable, cp)) {
      last_stable = i;
      i += static_cast<size_t>(len);
      continue;
    }
    // Unstable: the region runs from the last stable code point up to the next stable one.
    const size_t start = std::max(last_stable, copied);
    size_t end = i + static_cast<size_t>(len);
    while (end < s.size()) {
      int l;
      const uint32_t c = utf8::Decode(s.data() + end, &l);
      if (c < 0x300 || IsStable(stable, c)) break;
      end += static_cast<size_t>(l);
    }
    const std::string_view region = s.substr(start, end - start);
    std::string normalized = MapWithUtf8proc(region, options);
    if (normalized != region) {
      result.append(s.data() + copied, start - copied);
      result += normalized;
      copied = end;
      changed = true;
    }
    last_stable = end;
    i = end;
  }
  if (!changed) return false;
  result.append(s.data() + copied, s.size() - copied);
  *out = std::move(result);
  return true;
}

utf8proc_option_t Options(Normalizer::Form form) {
  switch (form) {
    case Normalizer::Form::kNFC: return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    case Normalizer::Form::kNFD: return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    case Normalizer::Form::kNFKC:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    case Normalizer::Form::kNFKD:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  }
  return UTF8PROC_STABLE;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

bool Normalizer::Normalize(std::string_view in, std::string* out) const {
  if (forms_.empty() || IsAscii(in)) return false;  // every form is the identity on ASCII
  if (forms_.size() == 1 && forms_[0] == Form::kNFC) return NfcLocal(in, out);
  std::string cur(in);
  bool changed = false;
  for (Form form : forms_) {
    if (form == Form::kNFC && NfcQuickYes(cur)) continue;
    std::string next = MapWithUtf8proc(cur, Options(form));
    if (next != cur) {
      cur = std::move(next);
      changed = true;
    }
  }
  if (changed) *out = std::move(cur);
  return changed;
}

std::string Normalizer::Describe() const {
  std::string s;
  for (Form f : forms_) {
    if (!s.empty()) s += "+";
    s += f == Form::kNFC ? "NFC" : f == Form::kNFD ? "NFD" : f == Form::kNFKC ? "NFKC" : "NFKD";
  }
  return s.empty() ? "none" : s;
}

}  // namespace distill::tok
