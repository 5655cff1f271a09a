// How a benchmark plugs into `distill bench`: each tools/cli/bench_<name>.cc registers itself with
// DISTILL_REGISTER_BENCH (like verbs.h does for verbs), adding its flags to its `distill bench <name>` subcommand
// and returning the function that runs it. bench.cc is only the verb shell that assembles them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "tools/cli/verbs.h"

namespace distill::cli {

// Runs a benchmark after flags are parsed; returns the process exit code.
using BenchRun = VerbRun;
// Adds the benchmark's flags to `cmd` (bound to state the returned runner owns) and returns the runner.
using BenchSetup = VerbSetup;

// Registers `distill bench <name>`; subcommands are listed by name. Returns true so it can initialise a static.
bool RegisterBench(std::string name, std::string description, BenchSetup setup);

// Helpers the benchmarks share.
// The source tree distill was compiled from (holds tools/npm with the reference packages), else the cwd.
std::filesystem::path BenchSourceRoot();
// A "VmXxx:" field of /proc/<pid>/status in kB, or -1.
long ProcStatusKb(const char* field, const std::string& pid = "self");
// Resets this process's VmHWM to its current RSS (Linux >= 4.0); false when not possible.
bool ResetPeakRss();

// One measured child process: wall and CPU seconds, peak RSS both as polled VmHWM and as wait4's ru_maxrss.
struct ChildRun {
  bool ok = false;
  double wall_s = 0, cpu_s = 0;
  long hwm_kb = 0;     // highest VmHWM seen while polling
  long maxrss_kb = 0;  // wait4 ru_maxrss
  std::string error;   // set when !ok
};
// Runs `args` (args[0] a path) with stdout to `stdout_path` when not empty. Our own RSS high-water mark is reset
// first, since the child's ru_maxrss starts from this process's RSS at exec.
ChildRun RunMeasuredChild(const std::vector<std::string>& args, const std::string& stdout_path = "");

}  // namespace distill::cli

#define DISTILL_REGISTER_BENCH(ident, name, description, setup) \
  static const bool distill_bench_registered_##ident = ::distill::cli::RegisterBench(name, description, setup)
