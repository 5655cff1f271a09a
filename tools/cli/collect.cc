// distill collect: prompts JSONL → teacher traces JSONL from an OpenAI-compatible endpoint (any reasoning
// dialect), resumable and shardable, with failures in <out>.failures.jsonl and the resolved config in
// <out>.config.yaml. With --verify (collect.verify) each trace line also carries the verdict of data::VerifyTrace
// (the `verify` object of docs/formats.md, without "line") and the summary ends with a reject-count table.
// `distill collect --merge A.jsonl B.jsonl … -o all.jsonl` combines shard outputs (de-dup by
// prompt_id#sample_index) instead of collecting.
//
// Exit codes: 0 every (prompt, sample) collected; 2 finished with failures (see the failures file); 130
// interrupted (SIGINT/SIGTERM; rerun to resume); 1 errors (bad config, unreadable prompts, missing API key).
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/collect/collector.h"
#include "data/collect/merge.h"
#include "nlohmann/json.hpp"
#include "tools/cli/print_config.h"
#include "tools/cli/verbs.h"
#include "tools/config/config.h"

namespace distill::cli {
namespace {

using config::Key;
using config::ValueType;
namespace collect = data::collect;

constexpr char kMathSuffix[] = "Please reason step by step, and put your final answer within \\boxed{}.";

struct CollectFlags {
  std::vector<std::string> args;       // dotted key=value overrides
  std::string config;
  std::map<std::string, std::string> values;  // schema key → flag text (empty = not given)
  std::vector<std::string> quoted_keys;       // keys whose flag text is a string to quote
  bool no_stream = false;
  bool math = false;
  bool allow_no_reasoning = false;
  bool accept_length = false;
  bool verify = false;
  std::vector<std::string> merge;
  bool print_config = false;
};

std::atomic<bool> g_cancel{false};
extern "C" void OnSignal(int) { g_cancel.store(true); }

int Fail(const std::string& message) {
  std::fprintf(stderr, "distill collect: %s\n", message.c_str());
  return 1;
}

config::Schema CollectSchema() {
  using config::AtLeast;
  using config::Closed;
  const collect::CollectOptions d;
  const config::Range kInt32 = Closed(1, std::numeric_limits<int32_t>::max());  // options narrow these to int
  const config::Range kSeconds = Closed(0, 1e7, "seconds");  // ×1000 to milliseconds must not overflow
  config::Schema s{"collect", {}};
  auto& e = s.entries;
  e.push_back(config::RequiredKey("collect.prompts", ValueType::kPath,
                                  "prompts JSONL ({id?, prompt | messages, answer?, …})"));
  e.push_back(config::RequiredKey("collect.out", ValueType::kPath,
                                  "traces JSONL, appended to (resume skips keys already in it)"));
  e.push_back(Key("collect.failures", ValueType::kPath, std::string(), "failures JSONL; empty: <out>.failures.jsonl"));
  e.push_back(config::RequiredKey("collect.endpoint.base_url", ValueType::kString,
                                  "OpenAI-compatible base URL (POST {base}/v1/chat/completions)"));
  e.push_back(config::RequiredKey("collect.endpoint.model", ValueType::kString, "model name sent to the endpoint"));
  e.push_back(Key("collect.endpoint.api_key_env", ValueType::kString, std::string(),
                  "NAME of the environment variable holding the API key (sent as Bearer); never the key itself"));
  e.push_back(config::EnumKey("collect.endpoint.dialect",
                              {"auto", "deepseek", "vllm", "llamacpp", "ollama", "openai"}, "auto",
                              "recorded in traces; every dialect is parsed either way"));
  e.push_back(Key("collect.endpoint.stream", ValueType::kBool, d.stream, "stream responses (SSE)"));
  e.push_back(Key("collect.sampling.temperature", ValueType::kFloat, d.temperature, "DeepSeek-R1: 0.6 (0.5-0.7)",
                  AtLeast(0)));
  e.push_back(Key("collect.sampling.top_p", ValueType::kFloat, d.top_p, "DeepSeek-R1: 0.95",
                  config::OpenClosed(0, 1)));
  e.push_back(Key("collect.sampling.max_tokens", ValueType::kInt, d.max_tokens, "max new tokens per response",
                  AtLeast(1)));
  e.push_back(Key("collect.sampling.seed", ValueType::kInt, int64_t{-1},
                  "when >= 0, each request sends a seed derived from it and the key", AtLeast(-1, "-1 = none")));
  e.push_back(Key("collect.samples", ValueType::kInt, int64_t{d.samples}, "responses per prompt", kInt32));
  e.push_back(Key("collect.instruction_suffix", ValueType::kString, std::string(),
                  "appended (after a newline) to the last user turn"));
  e.push_back(Key("collect.shard", ValueType::kString, std::string("0/1"), "i/N: keep prompts whose id hashes to i"));
  e.push_back(Key("collect.limit", ValueType::kInt, int64_t{0}, "collect at most this many prompts (0 = all)",
                  AtLeast(0, "0 = all")));
  e.push_back(Key("collect.concurrency", ValueType::kInt, int64_t{d.limits.max_in_flight}, "requests in flight",
                  kInt32));
  e.push_back(Key("collect.rate.requests_per_min", ValueType::kFloat, 0.0, "client-side request budget (0 = none)",
                  AtLeast(0, "0 = none")));
  e.push_back(Key("collect.rate.tokens_per_min", ValueType::kFloat, 0.0, "client-side token budget (0 = none)",
                  AtLeast(0, "0 = none")));
  e.push_back(Key("collect.rate.burst", ValueType::kFloat, 0.0, "request burst (0 = one second's worth)",
                  AtLeast(0, "0 = one second's worth")));
  e.push_back(Key("collect.timeouts.connect_s", ValueType::kFloat, d.timeouts.connect_ms / 1000.0, "TCP/TLS connect",
                  kSeconds));
  e.push_back(Key("collect.timeouts.first_byte_s", ValueType::kFloat, d.timeouts.first_byte_ms / 1000.0,
                  "request sent to first response byte", kSeconds));
  e.push_back(Key("collect.timeouts.idle_s", ValueType::kFloat, d.timeouts.idle_ms / 1000.0,
                  "longest silence mid-response", kSeconds));
  e.push_back(Key("collect.timeouts.total_s", ValueType::kFloat, d.timeouts.total_ms / 1000.0,
                  "whole request (0 = none)", kSeconds));
  e.push_back(Key("collect.retry.max_attempts", ValueType::kInt, int64_t{d.max_attempts},
                  "attempts per (prompt, sample) before a failure line", kInt32));
  e.push_back(Key("collect.retry.backoff_base_s", ValueType::kFloat, d.backoff.base_s, "first retry delay (jittered)",
                  kSeconds));
  e.push_back(Key("collect.retry.backoff_max_s", ValueType::kFloat, d.backoff.max_s, "retry delay cap", kSeconds));
  e.push_back(Key("collect.seed", ValueType::kInt, int64_t{0}, "drives retry jitter"));
  e.push_back(Key("collect.require_reasoning", ValueType::kBool, d.require_reasoning,
                  "retry (then fail) 200s without reasoning"));
  e.push_back(Key("collect.accept_length", ValueType::kBool, d.accept_length,
                  "keep responses cut at max_tokens (finish_reason length)"));
  e.push_back(Key("collect.verify", ValueType::kBool, d.verify,
                  "verify each trace as it arrives (distill verify's checks, defaults, no de-dup) and write the "
                  "verdict into its line as \"verify\"; every trace is still kept"));
  e.push_back(Key("collect.fsync.every_lines", ValueType::kInt, int64_t{d.log.fsync_every_lines}, "fsync batch size",
                  Closed(0, std::numeric_limits<int32_t>::max())));
  e.push_back(Key("collect.fsync.every_s", ValueType::kFloat, d.log.fsync_every_s, "fsync at least this often",
                  kSeconds));
  e.push_back(Key("collect.price.input_per_m", ValueType::kFloat, 0.0,
                  "price per million prompt tokens (cost estimate)", AtLeast(0)));
  e.push_back(Key("collect.price.output_per_m", ValueType::kFloat, 0.0,
                  "price per million completion tokens (cost estimate)", AtLeast(0)));
  e.push_back(config::EnumKey("collect.progress", {"auto", "bar", "lines", "off"}, "auto",
                              "auto: a bar on a TTY, periodic lines otherwise"));
  e.push_back(Key("collect.progress_interval_s", ValueType::kFloat, d.progress_interval_s, "seconds between lines",
                  kSeconds));
  return s;
}

absl::StatusOr<collect::CollectOptions> OptionsFrom(const config::Config& c) {
  collect::CollectOptions o;
  o.prompts_path = c.GetString("collect.prompts");
  o.out_path = c.GetString("collect.out");
  o.failures_path = c.GetString("collect.failures");
  o.base_url = c.GetString("collect.endpoint.base_url");
  o.model = c.GetString("collect.endpoint.model");
  o.api_key_env = c.GetString("collect.endpoint.api_key_env");
  o.dialect = c.GetString("collect.endpoint.dialect");
  o.stream = c.GetBool("collect.endpoint.stream");
  o.temperature = c.GetDouble("collect.sampling.temperature");
  o.top_p = c.GetDouble("collect.sampling.top_p");
  o.max_tokens = c.GetInt("collect.sampling.max_tokens");
  if (int64_t seed = c.GetInt("collect.sampling.seed"); seed >= 0) o.seed = seed;
  o.samples = static_cast<int>(c.GetInt("collect.samples"));  // int32-bounded by the schema, like the rest
  o.instruction_suffix = c.GetString("collect.instruction_suffix");
  if (absl::Status s = collect::ParseShard(c.GetString("collect.shard"), &o.shard_index, &o.shard_count); !s.ok())
    return s;
  o.limit_prompts = c.GetInt("collect.limit");
  o.limits.max_in_flight = static_cast<int>(c.GetInt("collect.concurrency"));
  o.limits.requests_per_min = c.GetDouble("collect.rate.requests_per_min");
  o.limits.tokens_per_min = c.GetDouble("collect.rate.tokens_per_min");
  o.limits.request_burst = c.GetDouble("collect.rate.burst");
  const auto ms = [&](const char* key) { return static_cast<int64_t>(c.GetDouble(key) * 1000.0); };
  o.timeouts.connect_ms = ms("collect.timeouts.connect_s");
  o.timeouts.first_byte_ms = ms("collect.timeouts.first_byte_s");
  o.timeouts.idle_ms = ms("collect.timeouts.idle_s");
  o.timeouts.total_ms = ms("collect.timeouts.total_s");
  o.max_attempts = static_cast<int>(c.GetInt("collect.retry.max_attempts"));
  o.backoff.base_s = c.GetDouble("collect.retry.backoff_base_s");
  o.backoff.max_s = c.GetDouble("collect.retry.backoff_max_s");
  o.backoff.seed = static_cast<uint64_t>(c.GetInt("collect.seed"));
  o.require_reasoning = c.GetBool("collect.require_reasoning");
  o.accept_length = c.GetBool("collect.accept_length");
  o.verify = c.GetBool("collect.verify");
  o.log.fsync_every_lines = static_cast<int>(c.GetInt("collect.fsync.every_lines"));
  o.log.fsync_every_s = c.GetDouble("collect.fsync.every_s");
  o.price_input_per_m = c.GetDouble("collect.price.input_per_m");
  o.price_output_per_m = c.GetDouble("collect.price.output_per_m");
  const std::string p = c.GetString("collect.progress");
  o.progress = p == "bar" ? collect::ProgressMode::kBar
               : p == "lines" ? collect::ProgressMode::kLines
               : p == "off"   ? collect::ProgressMode::kOff
                              : collect::ProgressMode::kAuto;
  o.progress_interval_s = c.GetDouble("collect.progress_interval_s");
  return o;
}

std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

int RunMerge(const CollectFlags& flags) {
  auto out = flags.values.find("collect.out");
  if (out == flags.values.end() || out->second.empty()) return Fail("--merge needs -o/--out");
  auto stats = collect::MergeTraceFiles(flags.merge, out->second);
  if (!stats.ok()) return Fail(std::string(stats.status().message()));
  std::printf("merged %lld lines from %zu files into %s: %lld written, %lld duplicates dropped, %lld bad lines\n",
              static_cast<long long>(stats->lines_in), flags.merge.size(), out->second.c_str(),
              static_cast<long long>(stats->written), static_cast<long long>(stats->duplicates),
              static_cast<long long>(stats->bad_lines));
  return 0;
}

int RunCollectVerb(const CollectFlags& flags) {
  if (!flags.merge.empty()) return RunMerge(flags);
  std::vector<std::string> overrides;
  for (const std::string& arg : flags.args) {
    if (arg.find('=') == std::string::npos) return Fail("unexpected argument '" + arg + "'; overrides are key=value");
    overrides.push_back(arg);
  }
  for (const auto& [key, text] : flags.values) {
    if (text.empty()) continue;
    bool quote = std::find(flags.quoted_keys.begin(), flags.quoted_keys.end(), key) != flags.quoted_keys.end();
    overrides.push_back(key + "=" + (quote ? Quote(text) : text));
  }
  if (flags.math) overrides.push_back(std::string("collect.instruction_suffix=") + Quote(kMathSuffix));
  if (flags.no_stream) overrides.push_back("collect.endpoint.stream=false");
  if (flags.allow_no_reasoning) overrides.push_back("collect.require_reasoning=false");
  if (flags.accept_length) overrides.push_back("collect.accept_length=true");
  if (flags.verify) overrides.push_back("collect.verify=true");

  const std::optional<std::string> config_path =
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config);
  auto cfg = config::LoadConfig(CollectSchema(), config_path, overrides);
  if (!cfg.ok()) return Fail(std::string(cfg.status().message()));
  auto options = OptionsFrom(*cfg);
  if (!options.ok()) return Fail(std::string(options.status().message()));
  if (flags.print_config) return PrintConfig(*cfg);
  std::filesystem::path out(options->out_path);
  if (out.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(out.parent_path(), ec);
    if (ec) return Fail("cannot create " + out.parent_path().string() + ": " + ec.message());
  }
  options->config_yaml = config::ToYaml(*cfg);

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  options->cancel = &g_cancel;
  auto counters = collect::RunCollect(*options);
  if (!counters.ok()) return Fail(std::string(counters.status().message()));
  bool priced = options->price_input_per_m > 0 || options->price_output_per_m > 0;
  std::fprintf(stderr, "%s", collect::FormatSummary(*counters, priced).c_str());
  std::fprintf(stderr, "traces: %s\nfailures: %s\n", options->out_path.c_str(),
               (options->failures_path.empty() ? collect::DefaultFailuresPath(options->out_path)
                                               : options->failures_path)
                   .c_str());
  if (counters->cancelled) return 130;
  return counters->failed > 0 ? 2 : 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<CollectFlags>();
  auto opt = [&](const std::string& names, const std::string& key, const std::string& help, bool quoted = false) {
    cmd.add_option(names, flags->values[key], help + " (" + key + ")");
    if (quoted) flags->quoted_keys.push_back(key);
  };
  cmd.add_option("overrides", flags->args, "dotted overrides key=value (collect.sampling.temperature=0.7)");
  cmd.add_option("-c,--config", flags->config, "run config YAML (keys under collect.)");
  opt("-p,--prompts", "collect.prompts", "prompts JSONL", true);
  opt("-o,--out", "collect.out", "traces JSONL (with --merge: the merged file)", true);
  opt("--failures", "collect.failures", "failures JSONL", true);
  opt("-u,--base-url", "collect.endpoint.base_url", "endpoint base URL", true);
  opt("-m,--model", "collect.endpoint.model", "model name", true);
  opt("--api-key-env", "collect.endpoint.api_key_env", "environment variable holding the API key", true);
  opt("--dialect", "collect.endpoint.dialect", "auto|deepseek|vllm|llamacpp|ollama|openai");
  opt("-t,--temperature", "collect.sampling.temperature", "sampling temperature");
  opt("--top-p", "collect.sampling.top_p", "nucleus sampling");
  opt("--max-tokens", "collect.sampling.max_tokens", "max new tokens");
  opt("--sampling-seed", "collect.sampling.seed", "send per-request seeds derived from this");
  opt("-n,--samples", "collect.samples", "responses per prompt");
  opt("--suffix", "collect.instruction_suffix", "instruction appended to the user turn", true);
  opt("--shard", "collect.shard", "i/N deterministic split by prompt id");
  opt("--limit", "collect.limit", "at most this many prompts");
  opt("-j,--concurrency", "collect.concurrency", "requests in flight");
  opt("--rpm", "collect.rate.requests_per_min", "requests per minute");
  opt("--tpm", "collect.rate.tokens_per_min", "tokens per minute");
  opt("--burst", "collect.rate.burst", "request burst");
  opt("--connect-timeout", "collect.timeouts.connect_s", "seconds");
  opt("--first-byte-timeout", "collect.timeouts.first_byte_s", "seconds");
  opt("--idle-timeout", "collect.timeouts.idle_s", "seconds");
  opt("--timeout", "collect.timeouts.total_s", "seconds per request");
  opt("--max-attempts", "collect.retry.max_attempts", "attempts per sample");
  opt("--backoff", "collect.retry.backoff_base_s", "first retry delay, seconds");
  opt("--backoff-max", "collect.retry.backoff_max_s", "retry delay cap, seconds");
  opt("--seed", "collect.seed", "run seed (retry jitter)");
  opt("--price-in", "collect.price.input_per_m", "price per million prompt tokens");
  opt("--price-out", "collect.price.output_per_m", "price per million completion tokens");
  opt("--progress", "collect.progress", "auto|bar|lines|off");
  opt("--progress-interval", "collect.progress_interval_s", "seconds between progress lines");
  AddPrintConfigFlag(cmd, &flags->print_config);
  cmd.add_flag("--no-stream", flags->no_stream, "non-streaming requests");
  cmd.add_flag("--math", flags->math, std::string("suffix = \"") + kMathSuffix + "\"");
  cmd.add_flag("--allow-no-reasoning", flags->allow_no_reasoning, "accept responses without reasoning");
  cmd.add_flag("--accept-length", flags->accept_length, "accept responses truncated at max_tokens");
  cmd.add_flag("--verify", flags->verify,
               "inline verify: write each trace's verdict (\"verify\" object) into its line, and a reject table at "
               "the end (collect.verify)");
  cmd.add_option("--merge", flags->merge, "merge these traces files (shards) into -o, de-duplicated, and exit")
      ->expected(1, CLI::detail::expected_max_vector_size);
  return [flags] { return RunCollectVerb(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(collect, "collect",
                      "Collect teacher reasoning traces from an OpenAI-compatible endpoint (resumable, shardable)", 30,
                      distill::cli::Setup);
