// Running a child program and waiting for it, safely from a process that runs other threads (LibTorch's): the
// child is started with posix_spawnp, never fork + setenv, since a forked child of a threaded process may call only
// async-signal-safe functions before it execs. Header-only so the trainer-only GPU benchmark can use it too.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace distill::data {

// Runs argv (argv[0] looked up on PATH) with this process's stdio and environment, `env` added or replacing
// variables of the same name, and waits. OK when it exits 0; otherwise InternalError naming argv[0] and argv[1] and
// the exit status or signal, or why it could not start ("not found" when argv[0] is not on PATH).
inline absl::Status RunProcess(const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& env = {}) {
  if (argv.empty()) return absl::InvalidArgumentError("RunProcess: empty argv");
  std::vector<std::string> env_entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text = *entry;
    if (!env.count(std::string(text.substr(0, text.find('='))))) env_entries.emplace_back(text);
  }
  for (const auto& [key, value] : env) env_entries.push_back(absl::StrCat(key, "=", value));
  std::vector<std::string> args_storage = argv;
  std::vector<char*> envp, args;
  for (std::string& e : env_entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (std::string& a : args_storage) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  if (const int error = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), envp.data()); error != 0)
    return absl::InternalError(absl::StrCat("cannot run ", argv[0], error == ENOENT ? " (not found)" : "", ": ",
                                            std::strerror(error)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waiting for ", argv[0], ": ", std::strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(argv[0], " ", argv.size() > 1 ? argv[1] : "", " failed (",
                                          WIFEXITED(status) ? absl::StrCat("exit status ", WEXITSTATUS(status))
                                                            : absl::StrCat("signal ", WTERMSIG(status)),
                                          ")"));
}

}  // namespace distill::data
