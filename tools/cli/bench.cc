// `distill bench <name>`: the verb shell. Each benchmark lives in its own tools/cli/bench_<name>.cc and registers
// itself with DISTILL_REGISTER_BENCH (tools/cli/bench.h): tokenize (BPE vs HF tokenizers), collect (the
// collector vs curl --parallel against the teacher simulator), build (the shard builder vs the raw tokenizer).
#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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

extern char** environ;

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
                      "Benchmarks against a named peer in the same run (tokenize, build, collect, export, train)",
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

namespace distill::cli {

ChildRun RunMeasuredChild(const std::vector<std::string>& args, const std::string& stdout_path) {
  ChildRun r;
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!stdout_path.empty())
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  malloc_trim(0);
  ResetPeakRss();
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    r.error = "cannot run " + args[0] + ": " + std::strerror(rc);
    return r;
  }
  const std::string pid_s = std::to_string(pid);
  int status = 0;
  struct rusage ru {};
  pid_t done;
  while ((done = wait4(pid, &status, WNOHANG, &ru)) == 0) {
    if (const long kb = ProcStatusKb("VmHWM:", pid_s); kb > r.hwm_kb) r.hwm_kb = kb;
    usleep(2000);
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (done < 0) {
    r.error = std::string("wait4: ") + std::strerror(errno);
    return r;
  }
  r.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  r.maxrss_kb = ru.ru_maxrss;
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!r.ok)
    r.error = args[0] + " exited with " +
              (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                 : "signal " + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : -1));
  return r;
}

}  // namespace distill::cli
