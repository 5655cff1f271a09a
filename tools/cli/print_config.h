// `--print-config`, shared by the verbs that read a run config (collect, build, verify, train): the flag, and
// printing the resolved config in place of running.
#pragma once

#include <cstdio>

#include "CLI/CLI.hpp"
#include "tools/config/config.h"

namespace distill::cli {

// Adds --print-config to `cmd`, bound to *print.
inline void AddPrintConfigFlag(CLI::App& cmd, bool* print) {
  cmd.add_flag("--print-config", *print, "print the resolved config (every key, its doc and range) as YAML and exit");
}

// Writes the resolved config (ToYaml: every key with its doc and range) to stdout; returns the verb's exit code.
inline int PrintConfig(const config::Config& cfg) {
  return std::fputs(config::ToYaml(cfg).c_str(), stdout) < 0 || std::fflush(stdout) != 0 ? 1 : 0;
}

}  // namespace distill::cli
