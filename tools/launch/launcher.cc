#include "tools/launch/launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace distill::launch {
namespace {

volatile sig_atomic_t g_stop_signal = 0;
volatile sig_atomic_t g_stop_count = 0;
void OnStopSignal(int sig) {
  g_stop_signal = sig;
  g_stop_count = g_stop_count + 1;
}

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
  OutputStream kind = OutputStream::kStdout;
  std::string pending;
};

struct Child {
  int rank = 0;
  pid_t pid = -1;
  bool running = false;
  Stream streams[2];
};

// Hands every complete line of `s` to the callback (and, with flush_partial, what is left).
void EmitLines(const LaunchOptions& options, int rank, Stream& s, bool flush_partial) {
  size_t start = 0;
  for (size_t nl; (nl = s.pending.find('\n', start)) != std::string::npos; start = nl + 1)
    options.on_line(rank, s.kind, std::string_view(s.pending).substr(start, nl - start));
  s.pending.erase(0, start);
  if (flush_partial && !s.pending.empty()) {
    options.on_line(rank, s.kind, s.pending);
    s.pending.clear();
  }
}

// The environment of rank `rank`: ours minus any inherited rendezvous variables, plus this job's.
std::vector<std::string> ChildEnv(const LaunchOptions& options, int port, int rank) {
  static const char* kOwned[] = {"RANK=", "LOCAL_RANK=", "WORLD_SIZE=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=",
                                 "MASTER_PORT=", "DISTILL_LAUNCHER_PID="};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    bool owned = false;
    for (const char* k : kOwned) owned = owned || std::strncmp(*e, k, std::strlen(k)) == 0;
    if (!owned) env.emplace_back(*e);
  }
  env.push_back(absl::StrCat("RANK=", rank));
  env.push_back(absl::StrCat("LOCAL_RANK=", rank));
  env.push_back(absl::StrCat("WORLD_SIZE=", options.nproc));
  env.push_back(absl::StrCat("LOCAL_WORLD_SIZE=", options.nproc));
  env.push_back(absl::StrCat("MASTER_ADDR=", options.master_addr));
  env.push_back(absl::StrCat("MASTER_PORT=", port));
  // A rank that knows its launcher asks for SIGTERM should the launcher die (`distill train` does: it then stops
  // after the step in progress with its checkpoint, rather than run on orphaned).
  env.push_back(absl::StrCat("DISTILL_LAUNCHER_PID=", getpid()));
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts one copy in its own process group, stdout and stderr into pipes. False with `error` set on failure.
bool Spawn(const LaunchOptions& options, int port, Child& child, std::string* error) {
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
  std::vector<std::string> args = options.command, env = ChildEnv(options, port, child.rank);
  std::vector<char*> argv = Pointers(args), envp = Pointers(env);
  const int rc = posix_spawnp(&child.pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(pipes[0][1]);
  close(pipes[1][1]);
  if (rc != 0) {
    close(pipes[0][0]);
    close(pipes[1][0]);
    *error = options.command[0] + ": " + std::strerror(rc);
    return false;
  }
  child.running = true;
  child.streams[0] = {pipes[0][0], OutputStream::kStdout, ""};
  child.streams[1] = {pipes[1][0], OutputStream::kStderr, ""};
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

// SIGINT and SIGTERM are recorded (and forwarded to the ranks) while a job runs; the old handlers come back after.
struct StopSignals {
  StopSignals() {
    g_stop_signal = 0;
    g_stop_count = 0;
    struct sigaction sa{};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  }
  struct sigaction old_int{}, old_term{};
};

}  // namespace

absl::StatusOr<int> RunLocal(const LaunchOptions& given) {
  if (given.nproc < 1) return absl::InvalidArgumentError("nproc must be at least 1");
  if (given.command.empty()) return absl::InvalidArgumentError("no command to run");
  if (given.master_port < 0 || given.master_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("master port ", given.master_port, ": expected 1..65535, or 0 to pick a free one"));
  }
  LaunchOptions options = given;
  if (!options.on_line) {
    options.on_line = [](int rank, OutputStream stream, std::string_view line) {
      FILE* out = stream == OutputStream::kStdout ? stdout : stderr;
      std::fprintf(out, "[rank %d] %.*s\n", rank, static_cast<int>(line.size()), line.data());
      std::fflush(out);
    };
  }
  const int port = options.master_port > 0 ? options.master_port : FreePort();
  if (port <= 0) return absl::UnavailableError("could not find a free port; set the master port");
  StopSignals signals;

  std::vector<Child> children(static_cast<size_t>(options.nproc));
  int exit_code = 0;
  bool stopping = false;
  int forwarded_signals = 0;
  auto stop_deadline = std::chrono::steady_clock::time_point::max();
  auto stop_all = [&](int code, int sig) {
    exit_code = code;
    stopping = true;
    SignalAll(children, sig);
    stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  };
  for (int r = 0; r < options.nproc; ++r) {
    children[static_cast<size_t>(r)].rank = r;
    std::string error;
    if (!Spawn(options, port, children[static_cast<size_t>(r)], &error)) {
      std::fprintf(stderr, "launch: cannot start rank %d: %s\n", r, error.c_str());
      stop_all(127, SIGTERM);
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
        if (n > 0) {
          s.pending.append(buf, static_cast<size_t>(n));
          EmitLines(options, c.rank, s, false);
        } else if (n == 0 || errno != EINTR) {
          EmitLines(options, c.rank, s, true);
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
          std::fprintf(stderr, "launch: rank %d exited with code %d; stopping the other ranks\n", c.rank, code);
          stop_all(code, SIGTERM);
        }
      }
    }
    // Each signal goes on to the ranks. The first gets no deadline: `distill train` saves a checkpoint before it
    // exits, which can take minutes on a large model. A second one means now: SIGKILL after 10 s.
    if (g_stop_count > forwarded_signals) {
      forwarded_signals = g_stop_count;
      if (!stopping) exit_code = 128 + g_stop_signal;
      stopping = true;
      SignalAll(children, g_stop_signal);
      if (forwarded_signals >= 2)
        stop_deadline = std::min(stop_deadline, std::chrono::steady_clock::now() + std::chrono::seconds(10));
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

}  // namespace distill::launch
