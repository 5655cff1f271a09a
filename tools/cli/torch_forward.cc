// In distill (not distill-torch): the torch verbs as entries of the help, and the hand-over to distill-torch.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "tools/cli/bench.h"
#include "tools/cli/torch_verbs.h"
#include "tools/cli/verbs.h"

namespace distill::cli {
namespace {

// main() hands torch commands over before parsing, so these entries only describe the verbs in --help.
VerbRun HelpOnly(CLI::App& cmd) {
  cmd.allow_extras();
  return [] { return 1; };
}

const bool registered = [] {
  for (const TorchVerb& v : kTorchVerbs)
    if (TorchVerbBuilt(v.name)) RegisterVerb(v.name, v.description, v.order, HelpOnly);
  if (TorchVerbBuilt("bench_train")) RegisterBench(kBenchTrain.name, kBenchTrain.description, HelpOnly);
  return true;
}();

}  // namespace

int ExecTorchVerbs(int argc, char** argv) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path torch = (ec ? std::filesystem::path(argv[0]) : self).parent_path() / kTorchExecutable;
  // argv[0] stays as the user typed it, so usage lines keep saying "distill".
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  ::execv(torch.c_str(), args.data());
  const int error = errno;
  std::fprintf(stderr, "distill: error: `%s` runs in %s (the LibTorch verbs), which could not be started: %s\n",
               argv[1], torch.c_str(), std::strerror(error));
  if (error == ENOENT)
    std::fprintf(stderr, "  this build has no LibTorch (see the skipped components at configure time) or the file "
                         "was moved away from distill\n");
  return 127;
}

}  // namespace distill::cli
