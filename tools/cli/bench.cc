// `distill bench <name>`: the verb shell. Each benchmark lives in its own tools/cli/bench_<name>.cc and registers
// itself with DISTILL_REGISTER_BENCH (tools/cli/bench.h): tokenize (BPE vs HF tokenizers), collect (the
// collector vs curl --parallel against the teacher simulator).
#include <algorithm>
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

}  // namespace distill::cli
