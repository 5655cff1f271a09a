// EncodeBatch: encodes texts on a pool of std::threads pulling indices from an atomic counter; results land at
// their input index, so the output order (and content) does not depend on scheduling.
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tokenizers/heap.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {

absl::StatusOr<std::vector<std::vector<TokenId>>> EncodeBatch(const Tokenizer& tokenizer,
                                                              std::span<const std::string> texts, int threads) {
  const size_t n = texts.size();
  std::vector<std::vector<TokenId>> out(n);
  std::vector<absl::Status> errors(n);
  size_t workers = threads > 0 ? static_cast<size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min(workers, std::max<size_t>(n, 1));
  std::atomic<size_t> next{0};
  auto work = [&] {
    AdviseHugePagesForThreadHeap();
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
      auto ids = tokenizer.Encode(texts[i]);
      if (ids.ok()) {
        out[i] = *std::move(ids);
      } else {
        errors[i] = ids.status();
      }
    }
  };
  if (workers <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i].ok()) {
      return absl::Status(errors[i].code(), absl::StrCat("text ", i, ": ", errors[i].message()));
    }
  }
  return out;
}

}  // namespace distill::tok
