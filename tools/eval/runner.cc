#include "tools/eval/runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/atomic_file.h"
#include "data/collect/collector.h"
#include "data/process.h"
#include "data/splitmix.h"
#include "data/trace_record.h"
#include "tokenizers/training_view.h"
#include "tools/eval/eval_run.h"

#ifndef DISTILL_SOURCE_DIR
#define DISTILL_SOURCE_DIR "."
#endif

namespace distill::eval {
namespace fs = std::filesystem;
namespace {

constexpr absl::string_view kThinkOpen = "<think>\n";

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A per-problem seed: the run seed mixed with the problem's position (splitmix64 finaliser).
uint64_t ProblemSeed(uint64_t seed, size_t index) {
  return data::SplitMix64Mix(seed + data::kGoldenGamma * (index + 1));
}

// Name, size and modification time of `path` (a file) or of the weight, config and tokenizer files directly in it
// (a folder): a model rebuilt in place reads as another model.
void AddFileStamps(const std::string& path, nlohmann::json* stamps) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file(ec) && (ext == ".safetensors" || ext == ".json" || ext == ".gguf" || ext == ".model"))
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  }
  for (const fs::path& file : files) {
    const auto mtime = fs::last_write_time(file, ec).time_since_epoch().count();
    stamps->push_back({file.string(), fs::file_size(file, ec), static_cast<int64_t>(mtime)});
  }
}

// Everything that decides a sample's text apart from its problem and index: partial results in a run folder are
// reused only under the same identity.
nlohmann::json GenerationIdentity(const EvalOptions& o) {
  nlohmann::json stamps = nlohmann::json::array();
  if (o.backend != "endpoint") {
    for (const std::string& path : {o.model, o.base, o.tokenizer}) {
      if (!path.empty()) AddFileStamps(path, &stamps);
    }
  }
  return {{"backend", o.backend},         {"model", o.model},
          {"base", o.base},               {"base_url", o.base_url},
          {"tokenizer", o.tokenizer},     {"template", o.template_override},
          {"temperature", o.temperature}, {"top_p", o.top_p},
          {"max_new_tokens", o.max_new_tokens}, {"seed", o.seed},
          {"instruction", o.instruction}, {"prefill_think", o.prefill_think},
          {"llama_kv_cache", o.backend == "gguf" ? o.llama_kv_cache : ""},
          {"torch_dtype", o.backend == "torch" ? o.torch_dtype : ""}, {"files", stamps}};
}

// Claims options.out for this generation: when its generation.json names another (another model or endpoint, or
// other sampling settings), or is missing, the `partial` results there are another run's and are deleted (a rerun
// with the same identity resumes from them). Then writes this run's generation.json.
absl::Status ClaimGenerationFolder(const EvalOptions& options, std::initializer_list<const char*> partial) {
  const fs::path dir = options.out;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir.string(), ": cannot create folder: ", ec.message()));
  const nlohmann::json identity = GenerationIdentity(options);
  const fs::path identity_path = dir / "generation.json";
  nlohmann::json earlier;
  if (std::ifstream in(identity_path, std::ios::binary); in)
    earlier = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (earlier != identity) {
    std::vector<std::string> removed;
    for (const char* name : partial) {
      if (fs::remove(dir / name, ec)) removed.push_back(name);
      if (ec) return absl::InternalError(absl::StrCat((dir / name).string(), ": cannot remove: ", ec.message()));
    }
    if (!removed.empty()) {
      std::fprintf(stderr, "distill eval: %s: %s came from another model or other settings; generating anew\n",
                   dir.c_str(), absl::StrJoin(removed, ", ").c_str());
    }
  }
  return data::WriteFileAtomically(identity_path.string(), identity.dump(2) + "\n");
}

std::string SampleKey(size_t request, int sample) { return absl::StrCat(request, "#", sample); }

absl::StatusOr<std::vector<BenchmarkItem>> ReadItems(const EvalOptions& options) {
  auto items = ReadBenchmark(options.benchmark);
  if (!items.ok()) return items.status();
  if (options.limit > 0 && static_cast<int64_t>(items->size()) > options.limit) items->resize(options.limit);
  if (items->empty()) return absl::InvalidArgumentError(options.benchmark + ": no problems");
  return items;
}

absl::Status CheckOptions(const EvalOptions& options) {
  if (options.samples < 1) return absl::InvalidArgumentError("eval: samples must be >= 1");
  if (options.temperature < 0) return absl::InvalidArgumentError("eval: temperature must be >= 0");
  if (!(options.top_p > 0 && options.top_p <= 1)) return absl::InvalidArgumentError("eval: top_p must be in (0, 1]");
  if (options.max_new_tokens < 1) return absl::InvalidArgumentError("eval: max_new_tokens must be >= 1");
  if (options.batch < 1) return absl::InvalidArgumentError("eval: batch must be >= 1");
  if (options.limit < 0) return absl::InvalidArgumentError("eval: limit must be >= 0 (0 = all problems)");
  // Checked here as well as where the metrics are computed: that is after every sample has been generated.
  for (int k : options.ks) {
    if (k < 1) return absl::InvalidArgumentError(absl::StrCat("eval: pass@k with k = ", k, " (expected k >= 1)"));
  }
  if (options.out.empty()) return absl::InvalidArgumentError("eval: an output folder is required");
  if (options.torch_dtype != "auto" && options.torch_dtype != "float32" && options.torch_dtype != "bfloat16")
    return absl::InvalidArgumentError(absl::StrCat("eval: torch dtype '", options.torch_dtype,
                                                   "': expected auto, float32 or bfloat16"));
  if (options.llama_kv_cache != "f16" && options.llama_kv_cache != "f32")
    return absl::InvalidArgumentError(absl::StrCat("eval: llama.cpp KV cache type '", options.llama_kv_cache,
                                                   "': expected f16 or f32"));
  return absl::OkStatus();
}

EvalRunInfo MakeInfo(const EvalOptions& options) {
  EvalRunInfo info;
  info.name = options.name.empty() ? fs::path(options.out).lexically_normal().filename().string() : options.name;
  if (info.name.empty()) info.name = fs::path(options.out).parent_path().filename().string();
  info.backend = options.backend;
  info.model = options.backend == "endpoint" ? absl::StrCat(options.model, " @ ",
                                                            data::collect::RedactUrl(options.base_url))
                                             : options.model;
  info.benchmark = options.benchmark;
  info.samples_per_problem = options.samples;
  info.ks = options.ks;
  info.settings = {{"temperature", options.temperature}, {"top_p", options.top_p},
                   {"max_new_tokens", options.max_new_tokens}, {"prefill_think", options.prefill_think},
                   {"instruction", options.instruction}, {"seed", options.seed}};
  if (options.backend == "gguf") info.settings["llama_kv_cache"] = options.llama_kv_cache;
  if (options.backend == "torch") info.settings["torch_dtype"] = options.torch_dtype;
  return info;
}

}  // namespace

absl::StatusOr<std::string> RenderEvalPrompt(const tok::ModelTokenization& model, const EvalOptions& options,
                                             const std::string& problem) {
  std::string user = options.instruction.empty() ? problem : absl::StrCat(problem, "\n", options.instruction);
  nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", user}}});
  auto text = tok::RenderChat(model, messages, /*add_generation_prompt=*/true);
  if (!text.ok()) return text.status();
  if (options.prefill_think && !absl::EndsWith(*text, kThinkOpen)) text->append(kThinkOpen.data(), kThinkOpen.size());
  return text;
}

absl::StatusOr<std::unique_ptr<TokenResultLog>> TokenResultLog::Open(const EvalOptions& options,
                                                                     const std::string& name,
                                                                     const std::vector<TokenRequest>& requests) {
  if (auto st = ClaimGenerationFolder(options, {name.c_str()}); !st.ok()) return st;
  std::unique_ptr<TokenResultLog> out(new TokenResultLog());
  out->path_ = (fs::path(options.out) / name).string();
  auto log = data::collect::JsonlLog::Open(out->path_);
  if (!log.ok()) return log.status();
  out->log_ = std::move(*log);
  for (const TokenRequest& request : requests) out->prompts_.push_back(request.prompt_ids);
  std::map<std::string, std::pair<size_t, int>> wanted;
  for (size_t i = 0; i < requests.size(); ++i) {
    for (int s = 0; s < requests[i].samples; ++s) wanted[SampleKey(i, s)] = {i, s};
  }
  // Lines of other requests (another benchmark, fewer samples asked) stay in the file but are not used.
  std::ifstream in(out->path_);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("key") || !j["key"].is_string()) continue;
    auto it = wanted.find(j["key"].get<std::string>());
    if (it == wanted.end() || out->found_.contains(it->second)) continue;
    const auto& [request, sample] = it->second;
    const bool same_prompt = j.value("prompt_ids", nlohmann::json()) == nlohmann::json(out->prompts_[request]);
    if (!same_prompt || !j.contains("tokens") || !j["tokens"].is_array() || !j.contains("finish_reason") ||
        !j["finish_reason"].is_string())
      continue;
    TokenSample result;
    try {
      result.tokens = j["tokens"].get<std::vector<int64_t>>();
    } catch (const nlohmann::json::exception&) {
      continue;
    }
    result.finish_reason = j["finish_reason"].get<std::string>();
    out->found_[{request, sample}] = std::move(result);
  }
  return out;
}

const TokenSample* TokenResultLog::Find(size_t request, int sample) const {
  auto it = found_.find({request, sample});
  return it == found_.end() ? nullptr : &it->second;
}

const std::string& TokenResultLog::path() const { return path_; }

absl::Status TokenResultLog::Append(size_t request, int sample, const TokenSample& result) {
  const nlohmann::json line = {{"key", SampleKey(request, sample)},
                               {"prompt_ids", prompts_.at(request)},
                               {"tokens", result.tokens},
                               {"finish_reason", result.finish_reason}};
  return log_->Append(line.dump());  // one write: a crash after it loses nothing of this sample
}

TokenBackend MakeLlamaCppBackend(const EvalOptions& options) {
  return [options](const std::vector<TokenRequest>& requests,
                   const std::vector<int64_t>& stop_ids) -> absl::StatusOr<std::vector<std::vector<TokenSample>>> {
    if (auto st = ClaimGenerationFolder(options, {"llama_cpp_requests.jsonl", "llama_cpp_results.jsonl"}); !st.ok())
      return st;
    std::string requests_path = (fs::path(options.out) / "llama_cpp_requests.jsonl").string();
    std::string results_path = (fs::path(options.out) / "llama_cpp_results.jsonl").string();
    std::string lines;
    for (size_t i = 0; i < requests.size(); ++i) {
      for (int s = 0; s < requests[i].samples; ++s) {
        nlohmann::json line = {{"key", SampleKey(i, s)},
                               {"prompt_ids", requests[i].prompt_ids},
                               {"temperature", options.temperature},
                               {"top_p", options.top_p},
                               {"seed", (requests[i].seed + static_cast<uint64_t>(s)) & 0x7fffffffULL},
                               {"max_new_tokens", options.max_new_tokens},
                               {"stop_ids", stop_ids},
                               {"kv_cache_type", absl::AsciiStrToUpper(options.llama_kv_cache)}};
        absl::StrAppend(&lines, line.dump(), "\n");
      }
    }
    // Results survive a rerun only for the very same requests (prompts, settings, stop ids); the script then
    // generates just the samples still missing.
    std::string previous;
    if (std::ifstream existing(requests_path, std::ios::binary); existing)
      previous.assign(std::istreambuf_iterator<char>(existing), std::istreambuf_iterator<char>());
    std::error_code ec;
    if (previous != lines) fs::remove(results_path, ec);
    if (auto st = data::WriteFileAtomically(requests_path, lines); !st.ok()) return st;
    std::string script = options.llama_script.empty()
                             ? std::string(DISTILL_SOURCE_DIR) + "/tools/eval/llama_cpp_generate.js"
                             : options.llama_script;
    std::map<std::string, std::string> env;
    if (!getenv("NODE_PATH")) env["NODE_PATH"] = std::string(DISTILL_SOURCE_DIR) + "/tools/npm/node_modules";
    auto run = data::RunProcess({options.node, script, options.model, requests_path, results_path}, env);
    if (!run.ok()) return absl::InternalError(absl::StrCat("llama.cpp backend: ", run.message()));
    std::vector<std::vector<TokenSample>> out(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) out[i].resize(requests[i].samples);
    std::ifstream in(results_path);
    std::string line;
    int64_t line_no = 0, seen = 0;
    while (std::getline(in, line)) {
      ++line_no;
      std::string where = absl::StrCat(results_path, ":", line_no);
      auto json = data::ParseJsonObjectLine(line, where);
      if (!json.ok()) return json.status();
      std::string key = json->value("key", "");
      size_t hash = key.find('#');
      size_t i = 0;
      int s = 0;
      try {
        i = std::stoul(key.substr(0, hash));
        s = std::stoi(key.substr(hash + 1));
      } catch (...) {
        return absl::DataLossError(where + ": bad key \"" + key + "\"");
      }
      if (hash == std::string::npos || i >= out.size() || s < 0 || s >= requests[i].samples)
        return absl::DataLossError(where + ": key \"" + key + "\" matches no request");
      for (int64_t t : json->at("tokens")) {
        if (std::find(stop_ids.begin(), stop_ids.end(), t) != stop_ids.end()) break;
        out[i][s].tokens.push_back(t);
      }
      out[i][s].finish_reason = json->value("finish_reason", "stop");
      ++seen;
    }
    int64_t expected = 0;
    for (const auto& r : requests) expected += r.samples;
    if (seen != expected)
      return absl::DataLossError(absl::StrCat(results_path, ": ", seen, " results for ", expected, " requests"));
    return out;
  };
}

absl::StatusOr<TokenEvalPlan> PlanTokenEval(const EvalOptions& options) {
  if (auto st = CheckOptions(options); !st.ok()) return st;
  auto items = ReadItems(options);
  if (!items.ok()) return items.status();
  std::string tokenizer_path = options.tokenizer.empty() ? options.model : options.tokenizer;
  auto model = tok::LoadModelTokenization(tokenizer_path, {options.template_override});
  if (!model.ok()) return model.status();
  auto prepared = tok::PrepareTrainingTemplate(*model);
  if (!prepared.ok()) return prepared.status();
  TokenEvalPlan plan;
  plan.items = std::move(*items);
  plan.stop_ids.assign(model->eos_token_ids.begin(), model->eos_token_ids.end());
  if (auto eot = model->tokenizer->Encode(prepared->end_of_turn); eot.ok() && eot->size() == 1 &&
      std::find(plan.stop_ids.begin(), plan.stop_ids.end(), (*eot)[0]) == plan.stop_ids.end())
    plan.stop_ids.push_back((*eot)[0]);
  for (size_t i = 0; i < plan.items.size(); ++i) {
    auto prompt = RenderEvalPrompt(*model, options, plan.items[i].problem);
    if (!prompt.ok()) return prompt.status();
    plan.think_open = absl::EndsWith(*prompt, kThinkOpen);
    auto ids = model->tokenizer->Encode(*prompt);
    if (!ids.ok()) return ids.status();
    plan.requests.push_back({std::vector<int64_t>(ids->begin(), ids->end()), options.samples,
                             ProblemSeed(options.seed, i)});
  }
  plan.model = std::move(*model);
  return plan;
}

absl::StatusOr<EvalResult> RunTokenEval(const EvalOptions& options, const TokenBackend& backend) {
  auto start = std::chrono::steady_clock::now();
  auto plan = PlanTokenEval(options);
  if (!plan.ok()) return plan.status();
  const std::vector<BenchmarkItem>& items = plan->items;
  const tok::ModelTokenization& model = plan->model;
  auto generated = backend(plan->requests, plan->stop_ids);
  if (!generated.ok()) return generated.status();

  std::vector<GradedSample> graded;
  for (size_t i = 0; i < items.size(); ++i) {
    for (int s = 0; s < options.samples; ++s) {
      const TokenSample& sample = (*generated)[i][s];
      std::vector<tok::TokenId> ids(sample.tokens.begin(), sample.tokens.end());
      // Ids the tokenizer has no token for (rows that pad a model's embedding past the vocabulary, which a sampler
      // can draw) print nothing, as HF's decode skips them; they still count as generated tokens.
      std::vector<tok::TokenId> known;
      for (tok::TokenId id : ids) {
        if (model.tokenizer->IdToPiece(id)) known.push_back(id);
      }
      auto text = model.tokenizer->Decode(known);
      if (!text.ok()) return text.status();
      SampleOutput output;
      output.content = plan->think_open ? absl::StrCat(kThinkOpen, *text) : *text;
      output.finish_reason = sample.finish_reason;
      // Reasoning tokens: the generated ones up to and including "</think>" (all of them when the block never
      // closes, none when it never opened).
      int64_t total = static_cast<int64_t>(ids.size());
      size_t close = text->find("</think>");
      if (close == std::string::npos) {
        output.reasoning_tokens = absl::StartsWith(output.content, "<think>") ? total : 0;
      } else {
        auto head = model.tokenizer->Encode(std::string_view(*text).substr(0, close));
        output.reasoning_tokens = head.ok() ? std::min<int64_t>(total, static_cast<int64_t>(head->size()) + 1) : -1;
      }
      output.answer_tokens = output.reasoning_tokens < 0 ? -1 : total - output.reasoning_tokens;
      graded.push_back(GradeSample(items[i], output, static_cast<int>(i), s));
    }
  }
  EvalRunInfo info = MakeInfo(options);
  info.wall_seconds = SecondsSince(start);
  auto metrics = WriteEvalRun(options.out, info, items, graded);
  if (!metrics.ok()) return metrics.status();
  return EvalResult{*metrics, info.wall_seconds, 0};
}

absl::StatusOr<EvalResult> RunEndpointEval(const EvalOptions& options) {
  if (auto st = CheckOptions(options); !st.ok()) return st;
  if (options.base_url.empty()) return absl::InvalidArgumentError("eval: the endpoint backend needs --base-url");
  auto start = std::chrono::steady_clock::now();
  auto items = ReadItems(options);
  if (!items.ok()) return items.status();
  if (auto st = ClaimGenerationFolder(options, {"traces.jsonl", "traces.failures.jsonl", "traces.jsonl.config.yaml"});
      !st.ok())
    return st;
  std::string prompts_path = (fs::path(options.out) / "prompts.jsonl").string();
  std::string lines;
  for (const BenchmarkItem& item : *items)
    absl::StrAppend(&lines, nlohmann::json{{"id", item.id}, {"prompt", item.problem}, {"answer", item.answer}}.dump(),
                    "\n");
  if (auto st = data::WriteFileAtomically(prompts_path, lines); !st.ok()) return st;

  data::collect::CollectOptions collect;
  collect.prompts_path = prompts_path;
  collect.out_path = (fs::path(options.out) / "traces.jsonl").string();
  collect.base_url = options.base_url;
  collect.model = options.model;
  collect.api_key_env = options.api_key_env;
  collect.temperature = options.temperature;
  collect.top_p = options.top_p;
  collect.max_tokens = options.max_new_tokens;
  collect.seed = options.seed;
  collect.samples = options.samples;
  collect.instruction_suffix = options.instruction;
  collect.require_reasoning = false;  // a base model answers without reasoning: that is a result, not a fault
  collect.accept_length = true;       // truncation is measured
  collect.progress = data::collect::ProgressMode::kOff;
  auto counters = data::collect::RunCollect(collect);
  if (!counters.ok()) return counters.status();

  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < items->size(); ++i) index_of[(*items)[i].id] = i;
  std::vector<std::vector<SampleOutput>> outputs(items->size(), std::vector<SampleOutput>(options.samples));
  std::vector<std::vector<bool>> have(items->size(), std::vector<bool>(options.samples, false));
  std::ifstream in(collect.out_path);
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (data::IsBlankLine(line)) continue;
    std::string where = absl::StrCat(collect.out_path, ":", line_no);
    auto json = data::ParseJsonObjectLine(line, where);
    if (!json.ok()) return json.status();
    auto trace = data::TraceFromJson(*json, where);
    if (!trace.ok()) return trace.status();
    auto it = index_of.find(trace->prompt_id);
    if (it == index_of.end() || trace->sample_index < 0 || trace->sample_index >= options.samples) continue;
    SampleOutput& out = outputs[it->second][trace->sample_index];
    out.reasoning = trace->reasoning;
    out.content = trace->answer;
    out.separated = true;
    out.finish_reason = trace->finish_reason;
    if (trace->usage.reasoning_tokens) {
      out.reasoning_tokens = *trace->usage.reasoning_tokens;
      out.answer_tokens = std::max<int64_t>(0, trace->usage.completion_tokens - out.reasoning_tokens);
    }
    have[it->second][trace->sample_index] = true;
  }
  std::vector<GradedSample> graded;
  int64_t failed = 0;
  for (size_t i = 0; i < items->size(); ++i) {
    for (int s = 0; s < options.samples; ++s) {
      if (!have[i][s]) {
        ++failed;
        outputs[i][s].finish_reason = "error";  // the collector gave up: graded as an empty, wrong sample
      }
      graded.push_back(GradeSample((*items)[i], outputs[i][s], static_cast<int>(i), s));
    }
  }
  EvalRunInfo info = MakeInfo(options);
  info.settings["failed_samples"] = failed;
  info.wall_seconds = SecondsSince(start);
  auto metrics = WriteEvalRun(options.out, info, *items, graded);
  if (!metrics.ok()) return metrics.status();
  return EvalResult{*metrics, info.wall_seconds, failed};
}

}  // namespace distill::eval
