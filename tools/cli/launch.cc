// distill launch: a one-machine torchrun. Spawns N copies of a command with RANK, LOCAL_RANK, WORLD_SIZE,
// LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, prefixes every output line with "[rank i] " (stdout to
// stdout, stderr to stderr), and when one copy fails stops the others and exits with the failed copy's code.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tools/cli/verbs.h"

extern char** environ;

namespace distill::cli {
namespace {

struct LaunchFlags {
  int nproc = 1;
  int master_port = 0;
  std::string master_addr = "127.0.0.1";
  std::vector<std::string> command;
};

volatile sig_atomic_t g_stop_signal = 0;
void OnStopSignal(int sig) { g_stop_signal = sig; }

// Binds port 0 on the loopback and reads back the port the kernel chose (free at that moment).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// One child's output stream: bytes not yet ending in a newline wait in `pending`.
struct Stream {
  int fd = -1;
  FILE* out = nullptr;
  std::string pending;
};

struct Child {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  Stream streams[2];
};

void EmitLines(const std::string& prefix, Stream& s, bool flush_partial) {
  size_t start = 0;
  for (size_t nl; (nl = s.pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::fprintf(s.out, "%s%.*s\n", prefix.c_str(), static_cast<int>(nl - start), s.pending.data() + start);
  }
  s.pending.erase(0, start);
  if (flush_partial && !s.pending.empty()) {
    std::fprintf(s.out, "%s%s\n", prefix.c_str(), s.pending.c_str());
    s.pending.clear();
  }
  std::fflush(s.out);
}

// The environment of rank `rank`: ours minus any inherited rendezvous variables, plus this job's.
std::vector<std::string> ChildEnv(const LaunchFlags& flags, int port, int rank) {
  static const char* kOwned[] = {"RANK=", "LOCAL_RANK=", "WORLD_SIZE=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=",
                                 "MASTER_PORT="};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    bool owned = false;
    for (const char* k : kOwned) owned = owned || std::strncmp(*e, k, std::strlen(k)) == 0;
    if (!owned) env.emplace_back(*e);
  }
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(flags.nproc));
  env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(flags.nproc));
  env.push_back("MASTER_ADDR=" + flags.master_addr);
  env.push_back("MASTER_PORT=" + std::to_string(port));
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts one copy in its own process group (so stopping it also stops whatever it started), stdout and stderr
// into pipes. Returns false with errno-style message on failure.
bool Spawn(const LaunchFlags& flags, int port, Child& child, std::string* error) {
  int pipes[2][2];
  for (auto& p : pipes) {
    if (pipe2(p, O_CLOEXEC) != 0) {
      *error = std::string("pipe: ") + std::strerror(errno);
      return false;
    }
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipes[0][1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipes[1][1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<std::string> args = flags.command, env = ChildEnv(flags, port, child.rank);
  std::vector<char*> argv = Pointers(args), envp = Pointers(env);
  const int rc = posix_spawnp(&child.pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(pipes[0][1]);
  close(pipes[1][1]);
  if (rc != 0) {
    close(pipes[0][0]);
    close(pipes[1][0]);
    *error = flags.command[0] + ": " + std::strerror(rc);
    return false;
  }
  child.running = true;
  child.streams[0] = {pipes[0][0], stdout, ""};
  child.streams[1] = {pipes[1][0], stderr, ""};
  return true;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void SignalAll(std::vector<Child>& children, int sig) {
  for (const Child& c : children) {
    if (c.running) kill(-c.pid, sig);
  }
}

int RunLaunch(const LaunchFlags& flags) {
  if (flags.nproc < 1) {
    std::fprintf(stderr, "distill launch: --nproc must be at least 1\n");
    return 2;
  }
  const int port = flags.master_port > 0 ? flags.master_port : FreePort();
  if (port <= 0) {
    std::fprintf(stderr, "distill launch: could not find a free port; pass --master-port\n");
    return 1;
  }
  struct sigaction sa{};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<Child> children(static_cast<size_t>(flags.nproc));
  int exit_code = 0;
  bool stopping = false;
  auto stop_deadline = std::chrono::steady_clock::time_point::max();
  for (int r = 0; r < flags.nproc; ++r) {
    children[static_cast<size_t>(r)].rank = r;
    std::string error;
    if (!Spawn(flags, port, children[static_cast<size_t>(r)], &error)) {
      std::fprintf(stderr, "distill launch: cannot start rank %d: %s\n", r, error.c_str());
      exit_code = 127;
      stopping = true;
      SignalAll(children, SIGTERM);
      stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      break;
    }
  }

  while (true) {
    std::vector<pollfd> fds;
    std::vector<std::pair<Child*, Stream*>> owners;
    for (Child& c : children) {
      for (Stream& s : c.streams) {
        if (s.fd >= 0) {
          fds.push_back({s.fd, POLLIN, 0});
          owners.emplace_back(&c, &s);
        }
      }
    }
    bool any_running = false;
    for (const Child& c : children) any_running = any_running || c.running;
    if (!any_running && fds.empty()) break;
    if (poll(fds.data(), fds.size(), 100) > 0) {
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Child& c = *owners[i].first;
        Stream& s = *owners[i].second;
        char buf[65536];
        const ssize_t n = read(s.fd, buf, sizeof(buf));
        const std::string prefix = "[rank " + std::to_string(c.rank) + "] ";
        if (n > 0) {
          s.pending.append(buf, static_cast<size_t>(n));
          EmitLines(prefix, s, false);
        } else if (n == 0 || errno != EINTR) {
          EmitLines(prefix, s, true);
          close(s.fd);
          s.fd = -1;
        }
      }
    }
    for (Child& c : children) {
      int status = 0;
      if (c.running && waitpid(c.pid, &status, WNOHANG) == c.pid) {
        c.running = false;
        const int code = ExitCode(status);
        if (code != 0 && !stopping) {
          std::fprintf(stderr, "distill launch: rank %d exited with code %d; stopping the other ranks\n", c.rank,
                       code);
          exit_code = code;
          stopping = true;
          SignalAll(children, SIGTERM);
          stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        }
      }
    }
    if (g_stop_signal != 0 && !stopping) {
      exit_code = 128 + g_stop_signal;
      stopping = true;
      SignalAll(children, g_stop_signal);
      stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
    // Ranks that ignore SIGTERM (stuck in a collective) are killed; pipes a stray grandchild holds are abandoned.
    if (stopping && std::chrono::steady_clock::now() > stop_deadline) {
      SignalAll(children, SIGKILL);
      any_running = false;
      for (const Child& c : children) any_running = any_running || c.running;
      if (!any_running) break;
    }
  }
  return exit_code;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<LaunchFlags>();
  cmd.add_option("--nproc", flags->nproc, "number of processes (ranks) to start on this machine")->required();
  cmd.add_option("--master-port", flags->master_port, "rendezvous port (0 = pick a free one)")->capture_default_str();
  cmd.add_option("--master-addr", flags->master_addr, "rendezvous address")->capture_default_str();
  cmd.add_option("command", flags->command, "the command each rank runs, after `--` (e.g. -- distill train …)")
      ->required();
  cmd.footer("Example: distill launch --nproc 2 -- distill train --config run.yaml\n"
             "Every line a rank prints is prefixed with \"[rank i] \"; see docs/distributed.md.");
  return [flags] { return RunLaunch(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(launch, "launch", "Run N data-parallel copies of a command on this machine (like torchrun)", 55,
                      distill::cli::Setup);
