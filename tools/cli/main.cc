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
#if defined(DISTILL_TORCH_BINARY)
#include "tools/cli/exception_message.h"
#endif

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
  if (argc >= 2 && argv[1][0] != '-' &&
      std::none_of(verbs.begin(), verbs.end(), [&](const auto& v) { return v.name == argv[1]; })) {
    // CLI11 would only say "A subcommand is required": name the word and list what this build has.
    std::string names;
    for (const auto& v : verbs) names += (names.empty() ? "" : ", ") + v.name;
    const bool skipped = std::any_of(distill::cli::kTorchVerbs.begin(), distill::cli::kTorchVerbs.end(),
                                     [&](const auto& v) { return std::string(v.name) == argv[1]; });
    std::fprintf(stderr, "distill: '%s' is not a verb%s; the verbs are: %s\n", argv[1],
                 skipped ? " of this build (its libraries were skipped at configure time)" : "", names.c_str());
    return 2;
  }
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
#if defined(DISTILL_TORCH_BINARY)
    std::fprintf(stderr, "distill: error: %s\n", distill::cli::ExceptionMessage(e));
#else
    std::fprintf(stderr, "distill: error: %s\n", e.what());
#endif
    return 1;
  }
  return 1;
}
