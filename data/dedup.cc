// De-dup keys and n-gram decontamination (declared in data/trace_filters.h).
#include <algorithm>

#include "data/text_scan.h"
#include "data/trace_filters.h"

namespace distill::data {
namespace {

constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

// Hash of a window of word hashes.
uint64_t WindowHash(const std::vector<uint64_t>& words, size_t start, size_t len) {
  std::string_view bytes(reinterpret_cast<const char*>(words.data() + start), len * sizeof(uint64_t));
  return Fnv1a64(bytes);
}

std::string Join(const std::vector<std::string>& words, size_t start, size_t len) {
  std::string out;
  for (size_t i = start; i < start + len; ++i) {
    if (i > start) out += ' ';
    out += words[i];
  }
  return out;
}

std::vector<uint64_t> HashWords(const std::vector<std::string>& words) {
  std::vector<uint64_t> out;
  out.reserve(words.size());
  for (const std::string& w : words) out.push_back(Fnv1a64(w));
  return out;
}

}  // namespace

uint64_t Fnv1a64(std::string_view bytes, uint64_t seed) {
  uint64_t h = seed;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

std::string NormalizeForDedup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = text_scan::NextCodePoint(text, &i);
    if (text_scan::IsSeparator(cp) || text_scan::IsPunctOrSymbol(cp)) {
      pending_space = !out.empty();
      continue;
    }
    if (cp < 0x20 || cp == 0x7F) continue;
    if (pending_space) out += ' ';
    pending_space = false;
    text_scan::AppendLower(cp, &out);
  }
  return out;
}

uint64_t DedupKey(std::string_view text) { return Fnv1a64(NormalizeForDedup(text)); }

std::vector<std::string> NormalizedWords(std::string_view text) {
  std::string norm = NormalizeForDedup(text);
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  size_t i = 0;
  while (i < norm.size()) {
    size_t start = i;
    uint32_t cp = text_scan::NextCodePoint(norm, &i);
    if (cp == ' ') {
      flush();
      continue;
    }
    text_scan::Script s = text_scan::ScriptOf(cp);
    if (s == text_scan::Script::kHan || s == text_scan::Script::kKana) {
      flush();
      words.emplace_back(norm.substr(start, i - start));
      continue;
    }
    word.append(norm, start, i - start);
  }
  flush();
  return words;
}

void AddToNgramIndex(NgramIndex* index, std::string_view text, int64_t source_id) {
  std::vector<std::string> words = NormalizedWords(text);
  const size_t n = static_cast<size_t>(std::max(1, index->n));
  std::vector<uint64_t> hashes = HashWords(words);
  if (words.size() < n) {
    if (static_cast<int64_t>(words.size()) < std::max(1, index->min_short_words)) return;
    index->short_texts.try_emplace(WindowHash(hashes, 0, hashes.size()), source_id);
    int len = static_cast<int>(words.size());
    auto it = std::lower_bound(index->short_lengths.begin(), index->short_lengths.end(), len);
    if (it == index->short_lengths.end() || *it != len) index->short_lengths.insert(it, len);
    return;
  }
  for (size_t i = 0; i + n <= hashes.size(); ++i) index->ngrams.try_emplace(WindowHash(hashes, i, n), source_id);
}

NgramIndex BuildNgramIndex(const std::vector<std::string>& texts, int n) {
  NgramIndex index;
  index.n = n;
  for (size_t i = 0; i < texts.size(); ++i) AddToNgramIndex(&index, texts[i], static_cast<int64_t>(i));
  return index;
}

std::optional<ContaminationHit> FindContamination(const NgramIndex& index, std::string_view prompt) {
  std::vector<std::string> words = NormalizedWords(prompt);
  std::vector<uint64_t> hashes = HashWords(words);
  const size_t n = static_cast<size_t>(std::max(1, index.n));
  for (size_t i = 0; !index.ngrams.empty() && i + n <= hashes.size(); ++i) {
    auto it = index.ngrams.find(WindowHash(hashes, i, n));
    if (it != index.ngrams.end()) return ContaminationHit{it->second, Join(words, i, n)};
  }
  for (int len : index.short_lengths) {
    const size_t k = static_cast<size_t>(len);
    for (size_t i = 0; i + k <= hashes.size(); ++i) {
      auto it = index.short_texts.find(WindowHash(hashes, i, k));
      if (it != index.short_texts.end()) return ContaminationHit{it->second, Join(words, i, k)};
    }
  }
  return std::nullopt;
}

}  // namespace distill::data
