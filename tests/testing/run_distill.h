// Runs the built distill executable (build/distill) with arguments, capturing its output and exit code.
#pragma once

#include <sys/wait.h>

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

}  // namespace distill::testing
