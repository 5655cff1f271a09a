// distill inspect SHARD_DIR: the manifest, a row length histogram, padding share, and (with --row and --model) one
// row decoded with its loss mask and document boundaries shown. On a .gguf or safetensors (file or model folder):
// keys, tensors, types and sizes (inspect_weights.cc).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "data/build/fingerprint.h"
#include "data/shard/shard.h"
#include "nlohmann/json.hpp"
#include "tokenizers/model_folder.h"
#include "tools/cli/inspect_weights.h"
#include "tools/cli/token_view.h"
#include "tools/cli/verbs.h"

namespace distill::cli {
namespace {

struct InspectFlags {
  std::string dir;
  std::string split = "train";
  int64_t row = -1;
  std::string model;
  std::string template_override;
  bool no_verify = false;
  bool no_color = false;
  bool all = false;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "distill inspect: %s\n", message.c_str());
  return 1;
}

// The manifest without the per-block checksum lists (long and not for reading).
nlohmann::json Summary(nlohmann::json m) {
  if (m.contains("splits") && m["splits"].is_object()) {
    for (auto& [name, split] : m["splits"].items()) {
      if (!split.contains("files") || !split["files"].is_array()) continue;
      for (auto& f : split["files"]) {
        if (f.contains("block_xxh64") && f["block_xxh64"].is_array()) {
          f["block_xxh64"] = absl::StrFormat("[%d blocks]", f["block_xxh64"].size());
        }
      }
    }
  }
  return m;
}

int RunInspect(const InspectFlags& flags) {
  if (IsWeightsPath(flags.dir)) return InspectWeights(flags.dir, flags.all);
  shard::OpenOptions options;
  options.verify_checksums = !flags.no_verify;
  std::unique_ptr<tok::ModelTokenization> model;
  if (flags.row >= 0) {
    if (flags.model.empty()) return Fail("--row needs --model (the tokenizer to decode with)");
    auto loaded = tok::LoadModelTokenization(flags.model, {.template_override = flags.template_override});
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    model = std::make_unique<tok::ModelTokenization>(std::move(*loaded));
    options.expected_tokenizer_fingerprint = build::TokenizerFingerprint(*model);
  }
  auto set = shard::ShardSet::Open(flags.dir, flags.split, options);
  if (!set.ok()) return Fail(std::string(set.status().message()));
  const shard::ShardSet& s = **set;
  std::printf("%s\n", Summary(s.manifest()).dump(2).c_str());

  // Row lengths (non-padding tokens) in ten buckets of seq_len / 10.
  const uint32_t T = s.seq_len();
  std::vector<int64_t> buckets(10, 0);
  int64_t tokens = 0, docs = 0, loss = 0;
  for (size_t r = 0; r < s.num_rows(); ++r) {
    const shard::RowView row = s.Row(r);
    tokens += static_cast<int64_t>(row.ids.size());
    docs += static_cast<int64_t>(row.doc_starts.size());
    for (uint8_t m : row.mask) loss += m;
    const size_t b = std::min<size_t>(9, (row.ids.size() - 1) * 10 / T);
    ++buckets[b];
  }
  const int64_t rows = static_cast<int64_t>(s.num_rows());
  std::printf("\nsplit %s: %lld rows, %lld documents, %lld tokens (%lld trained), sequence length %u\n",
              flags.split.c_str(), static_cast<long long>(rows), static_cast<long long>(docs),
              static_cast<long long>(tokens), static_cast<long long>(loss), T);
  const double padding = rows > 0 ? 1.0 - static_cast<double>(tokens) / (static_cast<double>(rows) * T) : 0.0;
  std::printf("padding share: %.2f%%\n", 100 * padding);
  std::printf("row length histogram (tokens):\n");
  const int64_t most = std::max<int64_t>(1, *std::max_element(buckets.begin(), buckets.end()));
  for (size_t b = 0; b < buckets.size(); ++b) {
    const uint64_t lo = b * T / 10 + 1, hi = (b + 1) * T / 10;
    std::printf("  %7llu-%-7llu %8lld %s\n", static_cast<unsigned long long>(lo),
                static_cast<unsigned long long>(hi), static_cast<long long>(buckets[b]),
                std::string(static_cast<size_t>(40 * buckets[b] / most), '#').c_str());
  }

  if (flags.row >= 0) {
    if (flags.row >= rows) return Fail(absl::StrFormat("--row %d: split %s has %d rows", flags.row, flags.split, rows));
    const shard::RowView row = s.Row(static_cast<size_t>(flags.row));
    const bool color = !flags.no_color && UseColor();
    std::printf("\nrow %lld: %zu tokens, %zu documents, %u padding\n", static_cast<long long>(flags.row),
                row.ids.size(), row.doc_starts.size(), T - static_cast<uint32_t>(row.ids.size()));
    for (size_t k = 0; k < row.doc_starts.size(); ++k) {
      const size_t b = row.doc_starts[k];
      const size_t e = k + 1 < row.doc_starts.size() ? row.doc_starts[k + 1] : row.ids.size();
      std::printf("--- document %zu: tokens [%zu, %zu) ---\n", k, b, e);
      std::printf("%s\n", RenderTokens(*model->tokenizer, row.ids.subspan(b, e - b), row.mask.subspan(b, e - b),
                                       color)
                              .c_str());
    }
  }
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<InspectFlags>();
  cmd.add_option("dir", flags->dir, "shard folder (with manifest.json), .gguf, .safetensors or HF model folder")
      ->required();
  cmd.add_flag("--all", flags->all, "list every tensor of a weights file");
  cmd.add_option("-s,--split", flags->split, "split to read (default train)");
  cmd.add_option("-r,--row", flags->row, "decode this row (needs --model)")->check(kNonNegative);
  cmd.add_option("-m,--model", flags->model, "model folder whose tokenizer built the shards");
  cmd.add_option("--template", flags->template_override, "chat template override used when loading the model");
  cmd.add_flag("--no-verify", flags->no_verify, "skip checksum verification");
  cmd.add_flag("--no-color", flags->no_color, "plain output even on a terminal");
  return [flags] { return RunInspect(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(inspect, "inspect", "Show a shard folder (manifest, lengths, decoded rows), a GGUF or safetensors", 60,
                      distill::cli::Setup);
