// distill build: accepted traces → training views (base model tokenizer + chat template) → packed, checksummed
// shards with manifest.json and resolved.yaml in the output folder (docs/formats.md "Shards"). With --text the
// input is plain text ({"text", "id"?} lines) for pretraining: tokens + EOS, loss on every token, no template.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/build/builder.h"
#include "nlohmann/json.hpp"
#include "absl/strings/str_cat.h"
#include "tools/cli/progress_line.h"
#include "tools/cli/print_config.h"
#include "tools/cli/verbs.h"
#include "tools/config/config.h"

namespace distill::cli {
namespace {
namespace fs = std::filesystem;
using config::Key;
using config::ValueType;

struct BuildFlags {
  std::vector<std::string> args;  // input files and/or key=value overrides
  std::string config;
  std::string model;
  std::string out;
  std::string template_override;
  // Set only when given, so every given value reaches the config (and its range check) as an override.
  std::optional<int64_t> seq_len;
  std::optional<double> val_fraction;
  std::optional<int64_t> threads;
  bool truncate = false;
  bool unpacked = false;
  bool text = false;
  bool quiet = false;
  bool print_config = false;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "distill build: %s\n", message.c_str());
  return 1;
}

config::Schema BuildSchema() {
  config::Schema s{"build", {}};
  auto& e = s.entries;
  e.push_back(config::RequiredKey("build.input", ValueType::kPathList,
                                  "accepted traces (or text) JSONL files, in order"));
  e.push_back(config::EnumKey("build.kind", {"traces", "text"}, "traces",
                              "traces: chat template, loss on the assistant's tokens; text: {\"text\", \"id\"?} lines, "
                              "tokens + EOS, loss on every token (pretraining)"));
  e.push_back(config::RequiredKey("build.model", ValueType::kPath,
                                  "base model folder (tokenizer.json/tokenizer.model + tokenizer_config.json)"));
  e.push_back(Key("build.template", ValueType::kString, std::string(),
                  "chat template override: chatml | llama3 | deepseek-r1 | a file; empty = the model's "
                  "(not used for text)"));
  e.push_back(Key("build.text_specials", ValueType::kBool, false,
                  "text: encode special-token text (<|im_start|> …) as the control token, as HF's tokenizer(text) "
                  "does (default: refuse the line)"));
  e.push_back(Key("build.out", ValueType::kPath, std::string(), "shard folder; empty: 'shards' beside the first input"));
  e.push_back(Key("build.seq_len", ValueType::kInt, int64_t{4096}, "tokens per row", config::Closed(2, 1 << 24)));
  e.push_back(Key("build.truncate", ValueType::kBool, false,
                  "truncate samples longer than seq_len (default: drop them); counted either way"));
  e.push_back(config::EnumKey("build.packing", {"packed", "unpacked"}, "packed",
                              "packed: best-fit-decreasing of whole samples; unpacked: one sample per row"));
  e.push_back(Key("build.val_fraction", ValueType::kFloat, 0.0,
                  "share of prompt ids (text: ids, else line numbers; stable hash) in the validation split",
                  config::ClosedOpen(0, 1)));
  e.push_back(Key("build.threads", ValueType::kInt, int64_t{0}, "tokenizer threads (0 = all cores)",
                  config::Closed(0, 1024, "0 = all cores")));
  e.push_back(Key("build.chunk_lines", ValueType::kInt, int64_t{2048}, "input lines read and tokenized at a time",
                  config::Closed(1, 10'000'000)));
  e.push_back(Key("build.pack_window", ValueType::kInt, int64_t{2048}, "samples packed together, per split",
                  config::Closed(1, 100'000'000)));
  e.push_back(Key("build.max_shard_mb", ValueType::kInt, int64_t{256}, "largest shard file, MiB",
                  config::Closed(1, 1 << 20)));
  return s;
}

std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

// The shortest text that reads back as `v`; "nan" and "inf" stay themselves (for the config to refuse by name).
std::string ShortestText(double v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr);
}

int RunBuild(const BuildFlags& flags) {
  std::vector<std::string> overrides;
  std::vector<std::string> inputs;
  for (const std::string& arg : flags.args) {
    (arg.find('=') != std::string::npos ? overrides : inputs).push_back(arg);
  }
  if (!inputs.empty()) {
    std::string list;
    for (const std::string& f : inputs) list += (list.empty() ? "" : ", ") + Quote(f);
    overrides.push_back("build.input=[" + list + "]");
  }
  if (!flags.model.empty()) overrides.push_back("build.model=" + Quote(flags.model));
  if (!flags.out.empty()) overrides.push_back("build.out=" + Quote(flags.out));
  if (!flags.template_override.empty()) overrides.push_back("build.template=" + Quote(flags.template_override));
  if (flags.seq_len) overrides.push_back("build.seq_len=" + std::to_string(*flags.seq_len));
  if (flags.val_fraction) overrides.push_back("build.val_fraction=" + ShortestText(*flags.val_fraction));
  if (flags.threads) overrides.push_back("build.threads=" + std::to_string(*flags.threads));
  if (flags.truncate) overrides.push_back("build.truncate=true");
  if (flags.unpacked) overrides.push_back("build.packing=unpacked");
  if (flags.text) overrides.push_back("build.kind=text");
  const std::optional<std::string> config_path =
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config);
  auto cfg = config::LoadConfig(BuildSchema(), config_path, overrides);
  if (!cfg.ok()) return Fail(std::string(cfg.status().message()));
  if (flags.print_config) return PrintConfig(*cfg);

  build::BuildOptions o;
  o.inputs = cfg->GetStringList("build.input");
  if (o.inputs.empty()) return Fail("build.input: no input files");
  o.model = cfg->GetString("build.model");
  o.kind = cfg->GetString("build.kind") == "text" ? build::InputKind::kText : build::InputKind::kTraces;
  o.template_override = cfg->GetString("build.template");
  o.text_specials = cfg->GetBool("build.text_specials");
  fs::path out = cfg->GetString("build.out");
  if (out.empty()) out = fs::path(o.inputs.front()).parent_path() / "shards";
  o.out = out.string();
  o.seq_len = static_cast<uint32_t>(cfg->GetInt("build.seq_len"));  // the schema bounds these numbers
  o.truncate = cfg->GetBool("build.truncate");
  o.pack = cfg->GetString("build.packing") == "packed";
  o.val_fraction = cfg->GetDouble("build.val_fraction");
  o.threads = static_cast<int>(cfg->GetInt("build.threads"));
  o.chunk_lines = static_cast<size_t>(cfg->GetInt("build.chunk_lines"));
  o.pack_window = static_cast<size_t>(cfg->GetInt("build.pack_window"));
  o.max_shard_bytes = static_cast<uint64_t>(cfg->GetInt("build.max_shard_mb")) << 20;
  // The manifest records the config minus what cannot change the shards (output folder, thread count), so
  // builds that differ only in those give byte-identical manifests.
  o.config = config::ToJson(*cfg);
  if (o.config.contains("build") && o.config["build"].is_object()) {
    o.config["build"].erase("out");
    o.config["build"].erase("threads");
  }

  o.resolved_yaml = config::ToYaml(*cfg);
  ProgressLine progress("distill build", 0, "MB");
  build::BuildProgress last;
  auto describe = [](const build::BuildProgress& p) { return absl::StrCat(p.lines, " lines, ", p.samples, " samples"); };
  if (!flags.quiet) {
    o.on_progress = [&](const build::BuildProgress& p) {
      progress.set_total(p.bytes_total / 1e6);
      progress.Update(p.bytes_read / 1e6, describe(p));
      last = p;
    };
  }
  auto report = build::BuildShards(o);
  if (!flags.quiet) progress.Finish(last.bytes_read / 1e6, describe(last));
  if (!report.ok()) return Fail(std::string(report.status().message()));
  constexpr size_t kShown = 20;
  for (size_t i = 0; i < report->bad.size() && i < kShown; ++i) {
    std::fprintf(stderr, "distill build: skipped bad line: %s\n", report->bad[i].second.c_str());
  }
  if (report->bad_lines > static_cast<int64_t>(kShown)) {
    std::fprintf(stderr, "distill build: … %lld more bad lines (see %s)\n",
                 static_cast<long long>(report->bad_lines - static_cast<int64_t>(kShown)),
                 report->manifest_path.c_str());
  }
  if (!flags.quiet) std::printf("%s", build::FormatReport(*report, 0).c_str());
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<BuildFlags>();
  cmd.add_option("args", flags->args,
                 "accepted traces (or, with --text, text) JSONL files and/or dotted overrides (build.seq_len=8192)");
  cmd.add_option("-c,--config", flags->config, "run config YAML (keys under build.)");
  cmd.add_option("-m,--model", flags->model, "base model folder (tokenizer and chat template)");
  cmd.add_option("-o,--out", flags->out, "shard folder (default: 'shards' beside the first input)");
  cmd.add_option("--template", flags->template_override, "chat template override (chatml, llama3, deepseek-r1, file)");
  cmd.add_option("--seq-len", flags->seq_len, "tokens per row (default 4096)");
  cmd.add_option("--val-fraction", flags->val_fraction, "share of prompt ids in the validation split");
  cmd.add_option("--threads", flags->threads, "tokenizer threads (0 = all cores)");
  cmd.add_flag("--truncate", flags->truncate, "truncate over-long samples instead of dropping them");
  cmd.add_flag("--unpacked", flags->unpacked, "one sample per row (no packing)");
  cmd.add_flag("--text", flags->text,
               "inputs are plain text, {\"text\": …, \"id\": …} per line: tokens + EOS, loss on every token "
               "(for train.mode=pretrain); no chat template");
  cmd.add_flag("-q,--quiet", flags->quiet, "do not print the summary");
  AddPrintConfigFlag(cmd, &flags->print_config);
  return [flags] { return RunBuild(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(build, "build",
                      "Tokenize accepted traces with the base model's template (or plain text, --text) into packed, "
                      "checksummed shards",
                      50, distill::cli::Setup);
