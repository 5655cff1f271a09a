// distill: one binary, one verb per pipeline stage. This file only assembles the registered verbs.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "distill_version.h"
#include "tokenizers/heap.h"
#include "tools/cli/torch_verbs.h"
#include "tools/cli/verbs.h"

namespace distill::cli {
namespace {

struct Verb {
  std::string name;
  std::string description;
  int order;
  VerbSetup setup;
};

std::vector<Verb>& Registry() {
  static std::vector<Verb> verbs;
  return verbs;
}

}  // namespace

bool RegisterVerb(std::string name, std::string description, int order, VerbSetup setup) {
  Registry().push_back({std::move(name), std::move(description), order, std::move(setup)});
  return true;
}

}  // namespace distill::cli

int main(int argc, char** argv) {
  using distill::cli::Registry;
#if !defined(DISTILL_TORCH_BINARY)
  // Huge pages and no trimming for the verbs that load tokenizers and stream data (LibTorch's verbs in
  // distill-torch keep glibc's defaults: their memory figures are benchmarked against PyTorch's).
  distill::tok::PrepareHeap();
#endif
#if defined(DISTILL_FORWARD_TORCH_VERBS)
  // distill: the LibTorch verbs run in distill-torch (tools/cli/torch_verbs.h).
  if (distill::cli::IsTorchCommand(argc, argv)) return distill::cli::ExecTorchVerbs(argc, argv);
#endif
  CLI::App app{"distill — make reasoning distills: collect teacher traces, build SFT shards, fine-tune, export GGUF"};
  app.set_version_flag("--version", std::string("distill ") + DISTILL_VERSION_STRING);
  app.require_subcommand(1);
  app.footer("Run `distill <verb> --help` for a verb's options.");

  auto verbs = Registry();
  std::sort(verbs.begin(), verbs.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, distill::cli::VerbRun>> runners;
  for (auto& verb : verbs) {
    CLI::App* cmd = app.add_subcommand(verb.name, verb.description);
    runners.emplace_back(cmd, verb.setup(*cmd));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // LibTorch and other libraries may throw; report, never crash with an unexplained abort.
  try {
    for (auto& [cmd, run] : runners) {
      if (cmd->parsed()) return run();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distill: error: %s\n", e.what());
    return 1;
  }
  return 1;
}
