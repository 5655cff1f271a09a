// How a benchmark plugs into `distill bench`: each tools/cli/bench_<name>.cc registers itself with
// DISTILL_REGISTER_BENCH (like verbs.h does for verbs), adding its flags to its `distill bench <name>` subcommand
// and returning the function that runs it. bench.cc is only the verb shell that assembles them.
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "tools/cli/verbs.h"

namespace distill::cli {

// Runs a benchmark after flags are parsed; returns the process exit code.
using BenchRun = VerbRun;
// Adds the benchmark's flags to `cmd` (bound to state the returned runner owns) and returns the runner.
using BenchSetup = VerbSetup;

// Registers `distill bench <name>`; subcommands are listed by name. Returns true so it can initialise a static.
bool RegisterBench(std::string name, std::string description, BenchSetup setup);

}  // namespace distill::cli

#define DISTILL_REGISTER_BENCH(ident, name, description, setup) \
  static const bool distill_bench_registered_##ident = ::distill::cli::RegisterBench(name, description, setup)
