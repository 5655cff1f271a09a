// Runs the built distill executable (build/distill) with arguments, capturing its output and exit code.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>  // environ (GNU)

#include <array>
#include <cstdio>
#include <string>

namespace distill::testing {

struct DistillResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string out;     // stdout and stderr together
};

// `args` is passed to the shell as is: quote paths that may hold spaces.
inline DistillResult RunDistill(const std::string& args) {
  const std::string command = std::string(DISTILL_BINARY_DIR) + "/distill " + args + " 2>&1";
  DistillResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Starts `distill args` in the background, stdout and stderr going to `log`; returns its pid (the shell execs
// distill, so signals sent to the pid reach distill itself), or -1 when it could not start.
inline pid_t StartDistill(const std::string& args, const std::string& log) {
  std::string command = std::string("exec ") + DISTILL_BINARY_DIR + "/distill " + args + " >'" + log + "' 2>&1";
  std::string shell = "/bin/sh", flag = "-c";
  char* argv[] = {shell.data(), flag.data(), command.data(), nullptr};
  pid_t pid = -1;
  return posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, ::environ) == 0 ? pid : -1;
}

// Waits for a StartDistill process; its exit code, 128 + the signal when killed by one.
inline int WaitDistill(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace distill::testing
