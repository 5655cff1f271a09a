// The documents of a shard split, cut at the recorded boundaries: what the builder tests compare against their input.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "data/shard/shard.h"

namespace distill::testing {

// One document: its token ids and loss mask.
using ShardDocument = std::pair<std::vector<int32_t>, std::vector<uint8_t>>;

// Every document of every row of `set`, in row order.
inline std::vector<ShardDocument> Documents(const shard::ShardSet& set) {
  std::vector<ShardDocument> docs;
  for (size_t r = 0; r < set.num_rows(); ++r) {
    shard::RowView row = set.Row(r);
    for (size_t k = 0; k < row.doc_starts.size(); ++k) {
      const size_t b = row.doc_starts[k];
      const size_t e = k + 1 < row.doc_starts.size() ? row.doc_starts[k + 1] : row.ids.size();
      docs.push_back({{row.ids.begin() + b, row.ids.begin() + e}, {row.mask.begin() + b, row.mask.begin() + e}});
    }
  }
  return docs;
}

}  // namespace distill::testing
