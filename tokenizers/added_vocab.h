// Added tokens (tokenizer.json "added_tokens") found in text before pre-tokenization, like HF's AddedVocabulary:
// leftmost-longest matching over a byte trie, one trie for tokens matched in raw text and one for tokens matched
// in normalized text, with the lstrip / rstrip / single_word flags applied to each match.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/tokenizer.h"

namespace distill::tok {

class AddedVocab {
 public:
  // `match_text` is what is searched for: the content, or the normalized content for normalized tokens.
  void Add(const AddedToken& token, std::string match_text);
  bool has_raw() const { return !raw_.nodes.empty(); }
  bool has_normalized() const { return !normalized_.nodes.empty(); }

  struct Segment {
    uint32_t start, end;
    TokenId id;  // -1: plain text to pre-tokenize
  };
  // Splits `text` into plain-text segments and added-token matches (raw or normalized trie), in order.
  void Split(std::string_view text, bool normalized, std::vector<Segment>* out) const;

 private:
  struct Node {
    int32_t token = -1;  // index into tokens_
    std::vector<std::pair<unsigned char, int32_t>> kids;  // sorted by byte
  };
  struct Trie {
    std::vector<Node> nodes;  // nodes[0] is the root once anything was added
    int32_t root_kid[256];
    Trie() { std::fill(std::begin(root_kid), std::end(root_kid), -1); }
  };
  void Insert(Trie* trie, std::string_view s, int32_t token);

  std::vector<AddedToken> tokens_;
  Trie raw_, normalized_;
};

}  // namespace distill::tok
