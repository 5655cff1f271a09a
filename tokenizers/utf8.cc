#include "tokenizers/utf8.h"

#include <cstring>
#include <mutex>
#include <vector>

#include "utf8proc.h"

namespace distill::tok::utf8 {
namespace {

// Length of the maximal subpart of an ill-formed sequence starting at s (at least 1).
inline size_t MaximalSubpart(const unsigned char* s, size_t n) {
  const unsigned char b = s[0];
  if (b < 0xC2 || b > 0xF4) return 1;
  const int need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  size_t i = 1;
  for (; i < static_cast<size_t>(need) && i < n; ++i) {
    unsigned char lo = 0x80, hi = 0xBF;
    if (i == 1) {
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    }
    if (s[i] < lo || s[i] > hi) break;
  }
  return i;
}

uint8_t ComputeClasses(uint32_t cp) {
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return kSpace;
    default:
      break;
  }
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || (cp >= 0x2000 && cp <= 0x200A)) return kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      return kLetter;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return kNumber;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
      return kMark;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO:
      return kPunct;
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO:
      return kSymbol;
    default:
      return 0;
  }
}

constexpr uint32_t kTableSize = 0x30000;

const uint8_t* Table() {
  static const std::vector<uint8_t>* table = [] {
    auto* t = new std::vector<uint8_t>(kTableSize);
    for (uint32_t cp = 0; cp < kTableSize; ++cp) (*t)[cp] = ComputeClasses(cp);
    return t;
  }();
  return table->data();
}

}  // namespace

void Append(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string Lossy(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  std::string out;
  out.reserve(n);
  size_t i = 0;
  while (i < n) {
    const int len = ValidSequenceLength(p + i, n - i);
    if (len > 0) {
      out.append(bytes.data() + i, static_cast<size_t>(len));
      i += static_cast<size_t>(len);
    } else {
      out.append("\xEF\xBF\xBD");
      i += MaximalSubpart(p + i, n - i);
    }
  }
  return out;
}

uint8_t Classes(uint32_t cp) {
  static const uint8_t* table = Table();
  return cp < kTableSize ? table[cp] : ComputeClasses(cp);
}

}  // namespace distill::tok::utf8
