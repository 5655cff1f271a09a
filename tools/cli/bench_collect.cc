// `distill bench collect`: collector throughput and memory against curl, on the same simulator, in the same run.
// Starts the teacher simulator (instant mode, 127.0.0.1) as a child process (`distill teacher-sim`), so this process holds
// only the collector: its peak RSS (VmHWM, reset through /proc/self/clear_refs just before the run, after the
// benchmark's own prompt data was freed) is the collector's own. Generates N math prompts (GenerateProblems), runs
// data::collect::RunCollect with K in flight writing traces to a temp dir, then runs `curl --parallel
// --parallel-max K -K config` (a child: CPU from wait4's rusage, peak RSS from its VmHWM) posting the same N
// request bodies, byte for byte, with the same headers and output to /dev/null. Prints both rates, the ratio, CPU
// per completion on each side (and the server's), both peak RSS, and checks that the traces file holds N lines,
// that there were no failures and that curl got N 200s. When the collector is slower than curl (or with
// --breakdown), it times the collector's parts on their own: the HTTP pool with no parsing, the prompt line, the
// request body, response normalisation, the trace line, the JSONL append.
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "data/collect/collector.h"
#include "data/collect/dialect.h"
#include "data/collect/http_pool.h"
#include "data/collect/jsonl_log.h"
#include "data/remove_tree.h"
#include "data/trace_record.h"
#include "nlohmann/json.hpp"
#include "tools/cli/bench.h"
#include "tools/teacher/problems.h"
#include "tools/teacher/teacher_sim.h"

extern char** environ;

namespace distill::cli {
namespace {

namespace fs = std::filesystem;
namespace collect = data::collect;
using Clock = std::chrono::steady_clock;

struct CollectBenchOptions {
  int completions = 20000;
  int in_flight = 256;
  bool stream = false;
  std::string dialect = "deepseek";
  int server_threads = 0;  // 0 = in_flight + 16 (cpp-httplib serves one kept-alive connection per thread)
  uint64_t seed = 42;
  std::string curl = "/usr/bin/curl";
  bool skip_curl = false;
  bool breakdown = false;
  bool keep = false;
};

constexpr char kModel[] = "deepseek-reasoner";

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

double CpuSeconds(const struct rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double SelfCpuSeconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return CpuSeconds(ru);
}

// utime + stime of a running process, from /proc/<pid>/stat; -1 when unreadable.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state; 14 utime, 15 stime
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Spawns argv with stdout to `stdout_fd` (-1: inherited); the pid, or -1 with errno set.
pid_t Spawn(const std::vector<std::string>& args, int stdout_fd) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

// A counter of /proc/net/netstat or /proc/net/snmp (a "Prefix: names…" line, then "Prefix: values…"); -1 if absent.
long long NetCounter(const char* file, const std::string& prefix, const std::string& counter) {
  std::ifstream in(file);
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind(prefix, 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value) {
      if (name == counter) return std::atoll(value.c_str());
    }
  }
  return -1;
}

// System-wide: connects dropped because an accept queue was full.
long long ListenOverflows() { return NetCounter("/proc/net/netstat", "TcpExt:", "ListenOverflows"); }
// System-wide: TCP connections opened (connect()).
long long TcpConnects() { return NetCounter("/proc/net/snmp", "Tcp:", "ActiveOpens"); }

// The teacher simulator as a child process; stopped (SIGTERM) and reaped by Stop or the destructor.
class ServerProcess {
 public:
  ~ServerProcess() { Stop(); }
  // Starts `exe teacher-sim … --port 0` and reads the base URL it prints first. Empty string on success.
  std::string Start(const std::string& exe, const CollectBenchOptions& opt, int threads) {
    int fds[2];
    if (pipe(fds) != 0) return std::string("pipe: ") + std::strerror(errno);
    const std::vector<std::string> args = {exe,       "teacher-sim", "--instant", "--host",    "127.0.0.1",
                                           "--port",  "0",           "--dialect", opt.dialect, "--seed",
                                           std::to_string(opt.seed), "--threads", std::to_string(threads)};
    pid_ = Spawn(args, fds[1]);
    const int spawn_errno = errno;
    close(fds[1]);
    if (pid_ < 0) {
      close(fds[0]);
      return "cannot start " + exe + " teacher-sim: " + std::strerror(spawn_errno);
    }
    std::string line;
    const auto t0 = Clock::now();
    while (line.find('\n') == std::string::npos && Seconds(t0) < 20) {
      struct pollfd p = {fds[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (line.find('\n') == std::string::npos) return "teacher-sim printed no URL (see its stderr above)";
    url_ = line.substr(0, line.find('\n'));
    return "";
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    wait4(pid_, &status, 0, &rusage_);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }
  const std::string& url() const { return url_; }
  double CpuSeconds() const { return pid_ > 0 ? ProcessCpuSeconds(pid_) : -1; }

 private:
  pid_t pid_ = -1;
  std::string url_;
  struct rusage rusage_ {};
};

// Exactly the body the collector sends for a prompt (collector.cc, `start`): same keys, values and dump flags.
std::string RequestBody(const collect::CollectOptions& o, const nlohmann::json& sent) {
  nlohmann::json body = {{"model", o.model},   {"messages", sent},           {"temperature", o.temperature},
                         {"top_p", o.top_p},   {"max_tokens", o.max_tokens}, {"stream", o.stream}};
  if (o.stream) body["stream_options"] = {{"include_usage", true}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> RequestHeaders(bool stream) {
  return {"Content-Type: application/json", "Expect:",
          stream ? "Accept: text/event-stream" : "Accept: application/json"};
}

// A double-quoted value for a curl config file (curl unescapes \\ \" \n \r \t \v inside quotes).
std::string CurlQuote(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') q += '\\';
    q += c;
  }
  return q + "\"";
}

size_t CountLines(const std::string& path, std::string* last_line = nullptr) {
  std::ifstream in(path, std::ios::binary);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (last_line) *last_line = std::move(line);
  }
  return n;
}

// Writes N generated math prompts to co.prompts_path and fills the messages as sent and the request bodies.
bool WritePrompts(const CollectBenchOptions& opt, const collect::CollectOptions& co, std::vector<nlohmann::json>* sent,
                  std::vector<std::string>* bodies) {
  std::ofstream prompts(co.prompts_path, std::ios::binary);
  const std::vector<teacher::Problem> problems = teacher::GenerateProblems(opt.seed, opt.completions);
  for (size_t i = 0; i < problems.size(); ++i) {
    nlohmann::json messages =
        nlohmann::json::array({{{"role", "user"}, {"content", teacher::MathPrompt(problems[i].text)}}});
    nlohmann::json line = {{"id", "p" + std::to_string(i)}, {"messages", messages}, {"answer", problems[i].answer}};
    prompts << line.dump() << '\n';
    sent->push_back(collect::PrepareMessages(messages, co.instruction_suffix, nullptr));
    bodies->push_back(RequestBody(co, sent->back()));
  }
  return static_cast<bool>(prompts);
}

struct PhaseResult {
  double wall_s = 0;
  double cpu_s = 0;         // the client's CPU (user + system)
  double server_cpu_s = 0;  // the simulator's CPU over the same span
  size_t ok = 0;
  long long listen_overflows = 0;  // system-wide, over the phase
  long long connects = 0;          // TCP connects, system-wide, over the phase
  double Rate() const { return wall_s > 0 ? static_cast<double>(ok) / wall_s : 0; }
};

// The HTTP pool alone: the same requests, responses discarded (no parsing, no trace lines, no file).
PhaseResult RunPoolOnly(const std::string& url, const std::vector<std::string>& bodies, int in_flight, bool stream,
                        const ServerProcess& server, std::string* sample_body) {
  PhaseResult r;
  collect::HttpPool pool(in_flight);
  std::vector<std::pair<uint64_t, collect::HttpResult>> finished;
  auto sample = std::make_shared<std::string>();
  const double server0 = server.CpuSeconds(), cpu0 = SelfCpuSeconds();
  const long long overflows0 = ListenOverflows(), connects0 = TcpConnects();
  const auto t0 = Clock::now();
  size_t next = 0, done = 0;
  while (done < bodies.size()) {
    while (next < bodies.size() && pool.in_flight() < in_flight) {
      collect::HttpRequest req;
      req.url = url;
      req.headers = RequestHeaders(stream);
      req.body = bodies[next];
      if (stream) {
        if (next == 0) {
          req.on_data = [sample](std::string_view bytes) { sample->append(bytes); };
        } else {
          req.on_data = [](std::string_view) {};
        }
      }
      pool.Start(next, std::move(req));
      ++next;
    }
    finished.clear();
    pool.Poll(50, finished);
    for (auto& [tag, http] : finished) {
      ++done;
      if (http.status == 200 && http.error_kind == collect::HttpErrorKind::kNone) ++r.ok;
      if (tag == 0 && !stream) *sample = std::move(http.body);
    }
  }
  r.wall_s = Seconds(t0);
  r.listen_overflows = ListenOverflows() - overflows0;
  r.connects = TcpConnects() - connects0;
  r.cpu_s = SelfCpuSeconds() - cpu0;
  r.server_cpu_s = server.CpuSeconds() - server0;
  *sample_body = *sample;
  return r;
}

// CPU time of this process (one thread busy here, the collector's own way of working: single-threaded).
double ProcessCpuNow() {
  struct timespec ts {};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Runs `fn` `n` times; CPU microseconds per call (CPU, not wall: the simulator and other work share the cores).
template <typename Fn>
double MicrosPerCall(int n, Fn&& fn) {
  const double t0 = ProcessCpuNow();
  for (int i = 0; i < n; ++i) fn(i);
  return (ProcessCpuNow() - t0) * 1e6 / n;
}

void PrintBreakdown(const CollectBenchOptions& opt, const collect::CollectOptions& co, const std::string& url,
                    const ServerProcess& server, const PhaseResult& ours, const fs::path& tmp) {
  std::vector<nlohmann::json> sent;
  std::vector<std::string> bodies;
  collect::CollectOptions again = co;
  again.prompts_path = (tmp / "prompts-again.jsonl").string();
  if (!WritePrompts(opt, again, &sent, &bodies)) return;
  std::printf("\nbreakdown (the collector's parts on their own, this process):\n");
  std::string sample;
  const PhaseResult pool = RunPoolOnly(url, bodies, opt.in_flight, opt.stream, server, &sample);
  const double n = static_cast<double>(bodies.size());
  std::printf("  HTTP pool only (libcurl multi, no parsing/writing): %8.0f completions/s  (%zu ok, CPU %.1f us/compl, "
              "server CPU %.1f us/compl, %lld TCP connects, %lld listen overflows)\n",
              pool.Rate(), pool.ok, pool.cpu_s / n * 1e6, pool.server_cpu_s / n * 1e6, pool.connects,
              pool.listen_overflows);
  const int reps = std::max(1, std::min(opt.completions, 5000));
  std::vector<std::string> prompt_lines;
  {
    std::ifstream in(co.prompts_path);
    for (std::string l; std::getline(in, l) && prompt_lines.size() < 5000;) prompt_lines.push_back(std::move(l));
  }
  const double us_prompt = MicrosPerCall(static_cast<int>(prompt_lines.size()), [&](int i) {
    auto rec = data::ParsePromptLine(prompt_lines[static_cast<size_t>(i)], "prompts");
    if (!rec.ok()) std::abort();
    nlohmann::json m = collect::PrepareMessages(rec->messages, "", nullptr);
  });
  const double us_body = MicrosPerCall(reps, [&](int i) {
    std::string b = RequestBody(co, collect::PrepareMessages(sent[static_cast<size_t>(i) % sent.size()], "", nullptr));
    if (b.empty()) std::abort();
  });
  absl::StatusOr<collect::Completion> completion = absl::InternalError("no sample response");
  const double us_parse = MicrosPerCall(reps, [&](int) {
    if (opt.stream) {
      collect::StreamNormaliser s;
      s.Feed(sample);
      completion = s.Finish();
    } else {
      completion = collect::NormaliseResponse(sample);
    }
  });
  if (!completion.ok()) {
    std::printf("  (sample response did not normalise: %s)\n", std::string(completion.status().message()).c_str());
    return;
  }
  data::TraceRecord t;
  t.prompt_id = "p0";
  t.messages = sent[0];
  t.ground_truth = "0";
  t.reasoning = completion->reasoning;
  t.answer = completion->answer;
  t.teacher_model = completion->model;
  t.endpoint = url;
  t.dialect = opt.dialect;
  t.sampling_requested.temperature = co.temperature;
  t.sampling_requested.top_p = co.top_p;
  t.sampling_requested.max_tokens = co.max_tokens;
  t.usage = completion->usage;
  t.finish_reason = completion->finish_reason;
  t.started_at = t.finished_at = "2026-01-01T00:00:00.000Z";
  std::string line;
  const double us_line = MicrosPerCall(reps, [&](int) {
    line = data::ToJson(t).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  });
  double us_append = 0, us_append_wall = 0;
  {
    auto log = collect::JsonlLog::Open((tmp / "append.jsonl").string(), co.log);
    if (log.ok()) {
      const auto t0 = Clock::now();
      us_append = MicrosPerCall(reps, [&](int) { (void)(*log)->Append(line); });
      (void)(*log)->Sync();
      us_append_wall = Seconds(t0) * 1e6 / reps;
    }
  }
  const double per_ours_us = ours.cpu_s / n * 1e6;
  std::printf("  per completion, collector CPU %.1f us in all; of it, timed alone (CPU us):\n", per_ours_us);
  std::printf("    HTTP pool (libcurl, sockets)        %7.1f us\n", pool.cpu_s / n * 1e6);
  std::printf("    prompt line (parse + prepare, once) %7.1f us\n", us_prompt);
  std::printf("    request body (messages + dump)      %7.1f us\n", us_body);
  std::printf("    normalise response (%s) %7.1f us  (%zu-byte response)\n",
              opt.stream ? "SSE stream    " : "JSON parse    ", us_parse, sample.size());
  std::printf("    trace line (ToJson + dump)          %7.1f us  (%zu bytes)\n", us_line, line.size());
  std::printf("    JSONL append (write + batched fsync)%7.1f us  (%.1f us wall, fsync every %d lines / %.0f s)\n",
              us_append, us_append_wall, co.log.fsync_every_lines, co.log.fsync_every_s);
  const double rest = per_ours_us - pool.cpu_s / n * 1e6 - us_prompt - us_body - us_parse - us_line - us_append;
  std::printf("    rest (scheduling, bookkeeping, cache effects)   %7.1f us\n",
              rest);
}

int RunBenchCollect(const CollectBenchOptions& opt) {
  if (opt.completions < 1 || opt.in_flight < 1) {
    std::fprintf(stderr, "bench collect: --completions and --in-flight must be >= 1\n");
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  const fs::path tmp = fs::temp_directory_path() / ("distill-bench-collect-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::fprintf(stderr, "bench collect: cannot find this executable: %s\n", ec.message().c_str());
    return 1;
  }
  const int server_threads = opt.server_threads > 0 ? opt.server_threads : opt.in_flight + 16;
  ServerProcess server;
  if (std::string err = server.Start(exe.string(), opt, server_threads); !err.empty()) {
    std::fprintf(stderr, "bench collect: %s\n", err.c_str());
    return 1;
  }
  std::printf("teacher-sim: %s (child process %d: instant, dialect %s, %d threads)\n", server.url().c_str(),
              static_cast<int>(server.pid()), opt.dialect.c_str(), server_threads);

  // What the collector is told; its URL is where curl posts too.
  collect::CollectOptions co;
  co.prompts_path = (tmp / "prompts.jsonl").string();
  co.out_path = (tmp / "traces.jsonl").string();
  co.failures_path = (tmp / "traces.failures.jsonl").string();
  co.base_url = server.url();
  co.model = kModel;
  co.dialect = opt.dialect;
  co.stream = opt.stream;
  co.limits.max_in_flight = opt.in_flight;
  co.progress = collect::ProgressMode::kOff;
  const std::string url = collect::ChatCompletionsUrl(co.base_url);
  // The prompts file, and the curl config with the same bodies; then this process lets go of both (malloc_trim)
  // so the RSS the collector starts from is the executable's, not the benchmark's.
  const std::string cfg_path = (tmp / "curl.cfg").string();
  size_t n = 0;
  {
    std::vector<nlohmann::json> sent;
    std::vector<std::string> bodies;
    if (!WritePrompts(opt, co, &sent, &bodies)) {
      std::fprintf(stderr, "bench collect: cannot write %s\n", co.prompts_path.c_str());
      return 1;
    }
    n = bodies.size();
    std::ofstream cfg(cfg_path, std::ios::binary);
    const std::string quoted_url = CurlQuote(url);
    std::string headers;
    for (const std::string& h : RequestHeaders(opt.stream)) headers += "header = " + CurlQuote(h) + "\n";
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) cfg << "next\n";
      cfg << "url = " << quoted_url << "\ndata-binary = " << CurlQuote(bodies[i]) << "\n"
          << headers << "silent\nshow-error\noutput = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\n";
    }
    if (!cfg) {
      std::fprintf(stderr, "bench collect: cannot write %s\n", cfg_path.c_str());
      return 1;
    }
  }
  malloc_trim(0);
  std::printf("prompts: %zu (GenerateProblems seed %llu), %d in flight, %s, temp dir %s\n", n,
              static_cast<unsigned long long>(opt.seed), opt.in_flight, opt.stream ? "streaming" : "non-streaming",
              tmp.c_str());
  std::fflush(stdout);

  // Ours, in this process: VmHWM reset first so it measures the collector's run.
  int rc = 0;
  PhaseResult ours;
  const long rss_before_kb = ProcStatusKb("VmRSS:");
  const bool hwm_reset = ResetPeakRss();
  collect::CollectCounters counters;
  {
    const double server0 = server.CpuSeconds(), cpu0 = SelfCpuSeconds();
    const long long overflows0 = ListenOverflows(), connects0 = TcpConnects();
    const auto t0 = Clock::now();
    auto result = collect::RunCollect(co);
    ours.wall_s = Seconds(t0);
    ours.listen_overflows = ListenOverflows() - overflows0;
    ours.connects = TcpConnects() - connects0;
    ours.cpu_s = SelfCpuSeconds() - cpu0;
    ours.server_cpu_s = server.CpuSeconds() - server0;
    if (!result.ok()) {
      std::fprintf(stderr, "bench collect: the collector failed: %s\n", std::string(result.status().message()).c_str());
      return 1;
    }
    counters = *result;
  }
  const long peak_kb = ProcStatusKb("VmHWM:");
  std::string last_line;
  const size_t trace_lines = CountLines(co.out_path, &last_line);
  const size_t failure_lines = CountLines(co.failures_path);
  const bool last_ok = !last_line.empty() && !nlohmann::json::parse(last_line, nullptr, false).is_discarded();
  ours.ok = static_cast<size_t>(counters.succeeded);
  const bool traces_ok = trace_lines == n && counters.succeeded == static_cast<int64_t>(n) && counters.failed == 0 &&
                         failure_lines == 0 && last_ok;
  if (!traces_ok) rc = 2;

  // curl --parallel: same bodies and headers, responses to /dev/null, one status code per transfer on stdout.
  PhaseResult theirs;
  long curl_peak_kb = 0;
  bool curl_ok = true;
  if (!opt.skip_curl) {
    const std::string codes_path = (tmp / "curl.codes").string();
    const int codes_fd = open(codes_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const double server0 = server.CpuSeconds();
    const long long overflows0 = ListenOverflows(), connects0 = TcpConnects();
    const auto t0 = Clock::now();
    const pid_t pid = Spawn({opt.curl, "--silent", "--show-error", "--no-progress-meter", "--parallel",
                             "--parallel-max", std::to_string(opt.in_flight), "--config", cfg_path},
                            codes_fd);
    if (codes_fd >= 0) close(codes_fd);
    if (pid < 0) {
      std::fprintf(stderr, "bench collect: cannot run %s: %s (--no-curl skips it)\n", opt.curl.c_str(),
                   std::strerror(errno));
      return 1;
    }
    // curl's own peak RSS: VmHWM of its process, read until it exits. (wait4's ru_maxrss would not do: a process
    // spawned with vfork starts its maxrss at this process's peak.)
    int status = 0;
    struct rusage ru {};
    while (wait4(pid, &status, WNOHANG, &ru) == 0) {
      if (const long kb = ProcStatusKb("VmHWM:", std::to_string(pid)); kb > 0) curl_peak_kb = kb;
      usleep(5000);
    }
    theirs.wall_s = Seconds(t0);
    theirs.listen_overflows = ListenOverflows() - overflows0;
    theirs.connects = TcpConnects() - connects0;
    theirs.server_cpu_s = server.CpuSeconds() - server0;
    theirs.cpu_s = CpuSeconds(ru);
    std::ifstream codes(codes_path);
    for (std::string code; std::getline(codes, code);) theirs.ok += code == "200";
    curl_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && theirs.ok == n;
    if (!curl_ok) {
      std::fprintf(stderr, "bench collect: curl: exit status %d, %zu of %zu transfers answered 200\n",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1, theirs.ok, n);
      rc = 2;
    }
  }

  const double nd = static_cast<double>(n);
  std::printf("\ndistill collector:       %8.0f completions/s  (%.2f s; CPU %.1f us/completion; server CPU %.1f "
              "us/completion)\n",
              ours.Rate(), ours.wall_s, ours.cpu_s / nd * 1e6, ours.server_cpu_s / nd * 1e6);
  std::printf("  during the run (system-wide): %lld TCP connects, %lld listen overflows (SYNs dropped)\n",
              ours.connects, ours.listen_overflows);
  std::printf("  traces: %zu lines (expected %zu), %lld failures, %lld requests, %lld retries%s\n", trace_lines, n,
              static_cast<long long>(counters.failed), static_cast<long long>(counters.requests),
              static_cast<long long>(counters.retries), traces_ok ? "" : "  <-- CHECK FAILED");
  std::printf("  peak RSS (collector, this process): %.1f MB%s  (RSS before the run %.1f MB)\n", peak_kb / 1024.0,
              hwm_reset ? "" : " [VmHWM could not be reset: includes setup]", rss_before_kb / 1024.0);
  if (!opt.skip_curl) {
    std::printf("curl --parallel-max %-4d %8.0f completions/s  (%.2f s; CPU %.1f us/completion; server CPU %.1f "
                "us/completion; peak RSS %.1f MB)%s\n",
                opt.in_flight, theirs.Rate(), theirs.wall_s, theirs.cpu_s / nd * 1e6, theirs.server_cpu_s / nd * 1e6,
                curl_peak_kb / 1024.0, curl_ok ? "" : "  <-- CHECK FAILED");
    std::printf("  during the run (system-wide): %lld TCP connects, %lld listen overflows (SYNs dropped)\n",
                theirs.connects, theirs.listen_overflows);
    std::printf("ratio distill/curl:      %8.2fx\n", theirs.Rate() > 0 ? ours.Rate() / theirs.Rate() : 0.0);
  }
  auto mark = [](bool met) { return met ? "met" : "MISSED"; };
  std::printf("targets: >= 2000 completions/s: %s; >= 1x curl: %s; peak RSS < 100 MB: %s\n", mark(ours.Rate() >= 2000),
              opt.skip_curl ? "not run" : mark(ours.Rate() >= theirs.Rate()), mark(peak_kb < 100 * 1024));
  std::fflush(stdout);

  if (opt.breakdown || (!opt.skip_curl && ours.Rate() < theirs.Rate()))
    PrintBreakdown(opt, co, url, server, ours, tmp);
  server.Stop();
  if (!opt.keep) (void)data::RemoveTree(tmp.string());
  return rc;
}

BenchRun SetupBenchCollect(CLI::App& cmd) {
  auto opt = std::make_shared<CollectBenchOptions>();
  cmd.add_option("--completions", opt->completions, "completions to collect (and to fetch with curl)")
      ->capture_default_str();
  cmd.add_option("--in-flight", opt->in_flight, "requests in flight (collector concurrency, curl --parallel-max)")
      ->capture_default_str();
  cmd.add_flag("--stream", opt->stream, "streaming (SSE) requests");
  cmd.add_option("--dialect", opt->dialect, "simulator dialect: deepseek | vllm | llamacpp | ollama")
      ->capture_default_str();
  cmd.add_option("--server-threads", opt->server_threads, "simulator worker threads (0 = in flight + 16)")
      ->capture_default_str();
  cmd.add_option("--seed", opt->seed, "prompt (GenerateProblems) and simulator seed")->capture_default_str();
  cmd.add_option("--curl", opt->curl, "curl executable")->capture_default_str();
  cmd.add_flag("--no-curl", opt->skip_curl, "skip the curl reference");
  cmd.add_flag("--breakdown", opt->breakdown, "time the collector's parts alone (automatic when slower than curl)");
  cmd.add_flag("--keep", opt->keep, "keep the temp dir (prompts, traces, curl config)");
  return [opt]() -> int { return RunBenchCollect(*opt); };
}

}  // namespace

DISTILL_REGISTER_BENCH(collect, "collect",
                       "collector throughput and peak RSS vs curl --parallel, on the teacher simulator",
                       SetupBenchCollect);

}  // namespace distill::cli
