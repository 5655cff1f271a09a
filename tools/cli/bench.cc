// `distill bench <name>`: the verb shell. Each benchmark lives in its own tools/cli/bench_<name>.cc and registers
// itself with DISTILL_REGISTER_BENCH (tools/cli/bench.h): tokenize (BPE vs HF tokenizers), collect (the
// collector vs curl --parallel against the teacher simulator), build (the shard builder vs the raw tokenizer).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "tools/cli/bench.h"
#include "tools/cli/verbs.h"

namespace distill::cli {
namespace {

struct Bench {
  std::string name;
  std::string description;
  BenchSetup setup;
};

std::vector<Bench>& BenchRegistry() {
  static std::vector<Bench> benches;
  return benches;
}

VerbRun SetupBench(CLI::App& cmd) {
  cmd.require_subcommand(1);
  auto benches = BenchRegistry();
  std::sort(benches.begin(), benches.end(), [](const Bench& a, const Bench& b) { return a.name < b.name; });
  auto runners = std::make_shared<std::vector<std::pair<CLI::App*, BenchRun>>>();
  for (Bench& bench : benches) {
    CLI::App* sub = cmd.add_subcommand(bench.name, bench.description);
    runners->emplace_back(sub, bench.setup(*sub));
  }
  return [runners]() -> int {
    for (auto& [sub, run] : *runners) {
      if (sub->parsed()) return run();
    }
    return 1;
  };
}

}  // namespace

bool RegisterBench(std::string name, std::string description, BenchSetup setup) {
  BenchRegistry().push_back({std::move(name), std::move(description), std::move(setup)});
  return true;
}

DISTILL_REGISTER_VERB(bench, "bench",
                      "benchmarks (tokenize: BPE throughput vs HF tokenizers; collect: collector throughput vs curl)",
                      90, SetupBench);

std::filesystem::path BenchSourceRoot() {
  std::filesystem::path here = __FILE__;  // CMake passes absolute source paths
  if (here.is_absolute()) {
    std::filesystem::path root = here.parent_path().parent_path().parent_path();
    if (std::filesystem::exists(root / "tools/npm")) return root;
  }
  return std::filesystem::current_path();
}

long ProcStatusKb(const char* field, const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  const size_t n = std::strlen(field);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, n, field) == 0) return std::strtol(line.c_str() + n, nullptr, 10);
  }
  return -1;
}

bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace distill::cli
