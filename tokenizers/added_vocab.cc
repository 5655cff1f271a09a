#include "tokenizers/added_vocab.h"

#include <algorithm>

#include "tokenizers/utf8.h"

namespace distill::tok {
namespace {

// Rust char::is_alphanumeric, approximated by the L and N categories.
bool IsAlnum(uint32_t cp) { return (utf8::Classes(cp) & (utf8::kLetter | utf8::kNumber)) != 0; }

uint32_t LastChar(std::string_view s) {
  size_t i = s.size();
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i > 0) --i;
  int len;
  return utf8::Decode(s.data() + i, &len);
}

}  // namespace

void AddedVocab::Insert(Trie* trie, std::string_view s, int32_t token) {
  if (s.empty()) return;
  if (trie->nodes.empty()) trie->nodes.emplace_back();
  int32_t& first = trie->root_kid[static_cast<unsigned char>(s[0])];
  if (first < 0) {
    first = static_cast<int32_t>(trie->nodes.size());
    trie->nodes.emplace_back();
  }
  int32_t node = first;
  for (size_t i = 1; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    auto& kids = trie->nodes[static_cast<size_t>(node)].kids;
    auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, int32_t{-1}));
    if (it != kids.end() && it->first == b) {
      node = it->second;
    } else {
      const auto child = static_cast<int32_t>(trie->nodes.size());
      kids.insert(it, {b, child});
      trie->nodes.emplace_back();  // may reallocate: `kids` is not used after this
      node = child;
    }
  }
  // The first token with a given text wins (HF maps content to one id).
  if (trie->nodes[static_cast<size_t>(node)].token < 0) trie->nodes[static_cast<size_t>(node)].token = token;
}

void AddedVocab::Add(const AddedToken& token, std::string match_text) {
  const auto index = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(token);
  Insert(token.normalized ? &normalized_ : &raw_, match_text, index);
}

void AddedVocab::Split(std::string_view text, bool normalized, std::vector<Segment>* out) const {
  const Trie& trie = normalized ? normalized_ : raw_;
  const size_t n = text.size();
  if (trie.nodes.empty()) {
    if (n > 0) out->push_back({0, static_cast<uint32_t>(n), -1});
    return;
  }
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < n) {
    int32_t node = trie.root_kid[s[pos]];
    if (node < 0) {
      ++pos;
      continue;
    }
    // Longest token starting at pos.
    int32_t best = -1;
    size_t best_end = 0;
    size_t k = pos + 1;
    while (true) {
      const Node& nd = trie.nodes[static_cast<size_t>(node)];
      if (nd.token >= 0) {
        best = nd.token;
        best_end = k;
      }
      if (k >= n || nd.kids.empty()) break;
      auto it = std::lower_bound(nd.kids.begin(), nd.kids.end(), std::make_pair(s[k], int32_t{-1}));
      if (it == nd.kids.end() || it->first != s[k]) break;
      node = it->second;
      ++k;
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[static_cast<size_t>(best)];
    size_t start = pos, stop = best_end;
    pos = best_end;  // the matcher resumes after the match itself
    if (tok.single_word) {
      int len;
      const bool start_space = start == 0 || !IsAlnum(LastChar(text.substr(0, start)));
      const bool stop_space = stop == n || !IsAlnum(utf8::Decode(text.data() + stop, &len));
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t ns = start;
      while (ns > 0) {
        size_t b = ns - 1;
        while (b > 0 && (s[b] & 0xC0) == 0x80) --b;
        int len;
        if (!utf8::IsWhitespace(utf8::Decode(text.data() + b, &len))) break;
        ns = b;
      }
      start = std::max(ns, start_offset);
    }
    if (tok.rstrip) {
      while (stop < n) {
        int len;
        if (!utf8::IsWhitespace(utf8::Decode(text.data() + stop, &len))) break;
        stop += static_cast<size_t>(len);
      }
    }
    if (start_offset < start) out->push_back({static_cast<uint32_t>(start_offset), static_cast<uint32_t>(start), -1});
    out->push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(stop), tok.id});
    start_offset = stop;
  }
  if (start_offset < n) out->push_back({static_cast<uint32_t>(start_offset), static_cast<uint32_t>(n), -1});
}

}  // namespace distill::tok
