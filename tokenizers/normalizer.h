// tokenizer.json "normalizer": a chain of Unicode normalization forms (NFC, NFD, NFKC, NFKD) via utf8proc.
// A null normalizer or an empty Sequence is the identity.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace distill::tok {

class Normalizer {
 public:
  enum class Form { kNFC, kNFD, kNFKC, kNFKD };

  void Add(Form form) { forms_.push_back(form); }
  bool empty() const { return forms_.empty(); }

  // Normalizes valid UTF-8 `in`. Returns false (and leaves *out untouched) when `in` is already normalized,
  // so callers can keep using `in` without a copy; otherwise writes the result to *out and returns true.
  bool Normalize(std::string_view in, std::string* out) const;

  std::string Describe() const;

 private:
  std::vector<Form> forms_;
};

}  // namespace distill::tok
