// distill teacher-sim: an offline, OpenAI-compatible stand-in for DeepSeek-R1 (tools/teacher/) for tests and
// the demo. Prints the base URL as the first line of stdout, serves until SIGINT/SIGTERM, then shuts down cleanly.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <pthread.h>

#include "absl/strings/numbers.h"
#include "tools/cli/verbs.h"
#include "tools/teacher/teacher_sim.h"

namespace distill::cli {
namespace {

struct TeacherSimFlags {
  teacher::TeacherSimOptions options;
  std::string dialect = "deepseek";
  double fault_rate = 0;
  std::vector<std::string> faults;
  std::string require_key_env;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "distill teacher-sim: %s\n", message.c_str());
  return 1;
}

int RunTeacherSim(TeacherSimFlags& flags) {
  teacher::TeacherSimOptions options = flags.options;
  auto dialect = teacher::ParseDialect(flags.dialect);
  if (!dialect.ok()) return Fail(std::string(dialect.status().message()));
  options.dialect = *dialect;
  if (flags.fault_rate > 0) options.faults = teacher::FaultRates::Uniform(flags.fault_rate);
  for (const std::string& spec : flags.faults) {
    size_t eq = spec.find('=');
    double rate = 0;
    if (eq == std::string::npos || !absl::SimpleAtod(spec.substr(eq + 1), &rate))
      return Fail("--fault expects KIND=RATE, got '" + spec + "'");
    auto kind = teacher::ParseFault(spec.substr(0, eq));
    if (!kind.ok()) return Fail(std::string(kind.status().message()));
    teacher::FaultRates& f = options.faults;
    switch (*kind) {
      case teacher::Fault::kRateLimit: f.rate_limit = rate; break;
      case teacher::Fault::kServerError: f.server_error = rate; break;
      case teacher::Fault::kUnavailable: f.unavailable = rate; break;
      case teacher::Fault::kSlowFirstByte: f.slow_first_byte = rate; break;
      case teacher::Fault::kCutStream: f.cut_stream = rate; break;
      case teacher::Fault::kMalformedJson: f.malformed_json = rate; break;
      case teacher::Fault::kNone: break;
    }
  }
  if (!flags.require_key_env.empty()) {
    const char* key = std::getenv(flags.require_key_env.c_str());
    if (key == nullptr || *key == '\0')
      return Fail("--require-key-env: environment variable " + flags.require_key_env + " is not set");
    options.api_key = key;  // never printed
  }

  // Block SIGINT/SIGTERM before the server threads start so only sigwait below receives them. A shell starts
  // background jobs with SIGINT ignored, and an ignored signal is discarded before sigwait sees it: reset first.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  teacher::TeacherSim sim(options);
  absl::Status status = sim.Start();
  if (!status.ok()) return Fail(std::string(status.message()));
  std::printf("%s\n", sim.url().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "distill teacher-sim: serving %s/v1 (dialect %s, seed %llu, fault rate %.3g%s%s); Ctrl-C stops\n",
               sim.url().c_str(), std::string(teacher::DialectName(options.dialect)).c_str(),
               static_cast<unsigned long long>(options.seed), options.faults.Total(),
               options.instant ? ", instant" : "", options.api_key.empty() ? "" : ", API key required");
  int received = 0;
  sigwait(&signals, &received);
  sim.Stop();
  std::fprintf(stderr, "distill teacher-sim: %s received, stopped after %zu requests\n",
               received == SIGINT ? "SIGINT" : "SIGTERM", sim.Log().size());
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<TeacherSimFlags>();
  teacher::TeacherSimOptions& o = flags->options;
  o.port = 8088;
  cmd.add_option("--host", o.host, "bind address")->capture_default_str();
  cmd.add_option("--port", o.port, "port (0 = pick a free one; the URL printed says which)")->capture_default_str();
  cmd.add_option("--dialect", flags->dialect, "deepseek | vllm | llamacpp | ollama (a request's X-Teacher-Dialect "
                 "header overrides it)")->capture_default_str();
  cmd.add_flag("--vllm-reasoning-alias", o.vllm_reasoning_alias, "vllm dialect: also send the newer `reasoning` field");
  cmd.add_option("--model", o.model, "model id listed by /v1/models")->capture_default_str();
  cmd.add_option("--seed", o.seed, "content seed")->capture_default_str();
  cmd.add_option("--fault-rate", flags->fault_rate, "probability of an HTTP fault per request, spread evenly over "
                 "rate_limit, server_error, unavailable, slow_first_byte, cut_stream, malformed_json");
  cmd.add_option("--fault", flags->faults, "KIND=RATE for one fault kind (repeatable; overrides --fault-rate)");
  cmd.add_option("--fault-seed", o.fault_seed, "seed of the fault draws")->capture_default_str();
  cmd.add_option("--wrong-rate", o.defects.wrong_answer, "share of wrong final answers");
  cmd.add_option("--mix-rate", o.defects.language_mix, "share of traces with Chinese sentences mixed in");
  cmd.add_option("--loop-rate", o.defects.loop, "share of traces repeating a paragraph");
  cmd.add_option("--truncate-rate", o.defects.truncation, "share of responses cut with finish_reason length");
  cmd.add_option("--no-reasoning-rate", o.defects.no_reasoning, "share of responses with empty reasoning");
  cmd.add_option("--empty-rate", o.defects.empty, "share of 200 responses with empty reasoning and content");
  cmd.add_flag("--instant", o.instant, "no artificial delays (benchmarks)");
  cmd.add_option("--latency-ms", o.latency_ms, "delay before every response's first byte");
  cmd.add_option("--chunk-delay-ms", o.chunk_delay_ms, "delay between streamed events");
  cmd.add_option("--slow-ms", o.slow_first_byte_ms, "delay of the slow_first_byte fault")->capture_default_str();
  cmd.add_option("--retry-after", o.retry_after_s, "Retry-After seconds of a 429")->capture_default_str();
  cmd.add_option("--log", o.log_path, "append one JSON line per request to FILE");
  cmd.add_option("--require-key-env", flags->require_key_env,
                 "require 'Authorization: Bearer <value of env NAME>' (401 otherwise)");
  cmd.add_option("--threads", o.threads, "worker threads")->capture_default_str();
  return [flags] { return RunTeacherSim(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(teacher_sim, "teacher-sim",
                      "Serve an offline DeepSeek-R1 stand-in (OpenAI-compatible) for tests and the demo", 20,
                      distill::cli::Setup);
