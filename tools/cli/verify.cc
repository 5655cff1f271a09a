// distill verify: rejection sampling of teacher traces (graders, filters, de-dup, decontamination) →
// accepted.jsonl, rejected.jsonl, verify_report.json and resolved.yaml in the output folder.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/verify.h"
#include "nlohmann/json.hpp"
#include "tools/cli/print_config.h"
#include "tools/cli/verbs.h"
#include "tools/config/config.h"

namespace distill::cli {
namespace {

namespace fs = std::filesystem;
using config::Key;
using config::ValueType;

struct VerifyFlags {
  std::vector<std::string> args;  // input file and/or key=value overrides
  std::string input;
  std::string out;
  std::vector<std::string> decontaminate;
  std::string config;
  bool no_dedup = false;
  bool require_ground_truth = false;
  bool quiet = false;
  bool print_config = false;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "distill verify: %s\n", message.c_str());
  return 1;
}

config::Schema VerifySchema() {
  const data::FilterOptions f;
  const config::Range kShare = config::Closed(0, 1);
  const config::Range kCount = config::AtLeast(0);
  const config::Range kCountOrOff = config::AtLeast(0, "0 = off");
  config::Schema s{"verify", {}};
  auto& e = s.entries;
  e.push_back(config::RequiredKey("verify.input", ValueType::kPath, "traces JSONL to verify"));
  e.push_back(Key("verify.out", ValueType::kPath, std::string(),
                  "output folder (created); empty: 'verified' beside the input"));
  e.push_back(Key("verify.decontaminate", ValueType::kPathList, std::vector<std::string>{},
                  "eval JSONL files (\"problem\" or \"prompt\" per line) whose n-grams prompts must not share"));
  e.push_back(Key("verify.decontaminate_ngram", ValueType::kInt, int64_t{13}, "n of the decontamination n-grams",
                  config::Closed(1, 1000)));
  e.push_back(
      Key("verify.dedup", ValueType::kBool, true, "drop exact duplicates (normalised text), keeping the first"));
  e.push_back(Key("verify.grade", ValueType::kBool, true, "grade answers against ground_truth when present"));
  e.push_back(Key("verify.require_ground_truth", ValueType::kBool, false, "reject traces without ground_truth"));
  e.push_back(Key("verify.ignore", ValueType::kStringList, std::vector<std::string>{},
                  "reject codes that do not reject (e.g. [code_block, long_paragraph])"));
  e.push_back(config::EnumKey("verify.code_task", {"auto", "always", "never"}, "auto",
                              "code-block filter: auto = extra.code_task or guessed from the prompt"));
  e.push_back(Key("verify.use_usage_reasoning_tokens", ValueType::kBool, true,
                  "apply the token length bounds to usage.reasoning_tokens when reported"));
  e.push_back(Key("verify.filters.max_foreign_script_share", ValueType::kFloat, f.max_foreign_script_share,
                  "language mixing: max share of letters in scripts unlike the prompt's", kShare));
  e.push_back(Key("verify.filters.min_foreign_letters", ValueType::kInt, f.min_foreign_letters,
                  "language mixing: foreign letters needed before rejecting", kCount));
  e.push_back(Key("verify.filters.ngram_size", ValueType::kInt, int64_t{f.ngram_size}, "repetition: word n-gram size",
                  config::Closed(1, 64)));
  e.push_back(Key("verify.filters.max_repeated_ngram_share", ValueType::kFloat, f.max_repeated_ngram_share,
                  "repetition: max share of repeated n-grams", kShare));
  e.push_back(Key("verify.filters.min_words_for_ngram", ValueType::kInt, f.min_words_for_ngram,
                  "repetition: words needed before the n-gram check runs", kCount));
  e.push_back(Key("verify.filters.max_unit_repeats", ValueType::kInt, f.max_unit_repeats,
                  "repetition: max occurrences of one line or paragraph", config::AtLeast(1)));
  e.push_back(Key("verify.filters.min_repeated_unit_chars", ValueType::kInt, f.min_repeated_unit_chars,
                  "repetition: shortest line/paragraph counted", kCount));
  e.push_back(Key("verify.filters.min_reasoning_chars", ValueType::kInt, f.min_reasoning_chars,
                  "min reasoning length in code points (0 = off)", kCountOrOff));
  e.push_back(Key("verify.filters.max_reasoning_chars", ValueType::kInt, f.max_reasoning_chars,
                  "max reasoning length in code points (0 = off)", kCountOrOff));
  e.push_back(Key("verify.filters.min_reasoning_tokens", ValueType::kInt, f.min_reasoning_tokens,
                  "min reasoning tokens (0 = off)", kCountOrOff));
  e.push_back(Key("verify.filters.max_reasoning_tokens", ValueType::kInt, f.max_reasoning_tokens,
                  "max reasoning tokens (0 = off)", kCountOrOff));
  e.push_back(Key("verify.filters.max_paragraph_chars", ValueType::kInt, f.max_paragraph_chars,
                  "readability: longest paragraph in code points (0 = off)", kCountOrOff));
  e.push_back(Key("verify.filters.reject_code_blocks", ValueType::kBool, f.reject_code_blocks_in_non_code,
                  "reject fenced code blocks in non-code tasks"));
  return s;
}

absl::StatusOr<data::VerifyOptions> OptionsFrom(const config::Config& c) {
  data::VerifyOptions o;
  data::FilterOptions& f = o.filters;
  f.max_foreign_script_share = c.GetDouble("verify.filters.max_foreign_script_share");
  f.min_foreign_letters = c.GetInt("verify.filters.min_foreign_letters");
  f.ngram_size = static_cast<int>(c.GetInt("verify.filters.ngram_size"));  // 1..64 by the schema
  f.max_repeated_ngram_share = c.GetDouble("verify.filters.max_repeated_ngram_share");
  f.min_words_for_ngram = c.GetInt("verify.filters.min_words_for_ngram");
  f.max_unit_repeats = c.GetInt("verify.filters.max_unit_repeats");
  f.min_repeated_unit_chars = c.GetInt("verify.filters.min_repeated_unit_chars");
  f.min_reasoning_chars = c.GetInt("verify.filters.min_reasoning_chars");
  f.max_reasoning_chars = c.GetInt("verify.filters.max_reasoning_chars");
  f.min_reasoning_tokens = c.GetInt("verify.filters.min_reasoning_tokens");
  f.max_reasoning_tokens = c.GetInt("verify.filters.max_reasoning_tokens");
  f.max_paragraph_chars = c.GetInt("verify.filters.max_paragraph_chars");
  f.reject_code_blocks_in_non_code = c.GetBool("verify.filters.reject_code_blocks");
  o.grade = c.GetBool("verify.grade");
  o.require_ground_truth = c.GetBool("verify.require_ground_truth");
  o.dedup = c.GetBool("verify.dedup");
  o.use_usage_reasoning_tokens = c.GetBool("verify.use_usage_reasoning_tokens");
  const std::string mode = c.GetString("verify.code_task");
  o.code_task = mode == "always" ? data::CodeTaskMode::kAlways
                : mode == "never" ? data::CodeTaskMode::kNever
                                  : data::CodeTaskMode::kAuto;
  const auto& codes = data::AllRejectCodes();
  for (const std::string& code : c.GetStringList("verify.ignore")) {
    if (std::find(codes.begin(), codes.end(), code) == codes.end()) {
      std::string known;
      for (const std::string& k : codes) known += (known.empty() ? "" : ", ") + k;
      return absl::InvalidArgumentError("verify.ignore: unknown reject code '" + code + "' (known: " + known + ")");
    }
    o.ignore.push_back(code);
  }
  return o;
}

std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

int RunVerify(const VerifyFlags& flags) {
  // Overrides: dotted key=value arguments in order, then the explicit flags (which win).
  std::vector<std::string> overrides;
  std::string input = flags.input;
  for (const std::string& arg : flags.args) {
    if (arg.find('=') != std::string::npos) {
      overrides.push_back(arg);
    } else if (input.empty()) {
      input = arg;
    } else {
      return Fail("more than one input file ('" + input + "', '" + arg + "'); overrides are key=value");
    }
  }
  if (!input.empty()) overrides.push_back("verify.input=" + Quote(input));
  if (!flags.out.empty()) overrides.push_back("verify.out=" + Quote(flags.out));
  if (!flags.decontaminate.empty()) {
    std::string list;
    for (const std::string& f : flags.decontaminate) list += (list.empty() ? "" : ", ") + Quote(f);
    overrides.push_back("verify.decontaminate=[" + list + "]");
  }
  if (flags.no_dedup) overrides.push_back("verify.dedup=false");
  if (flags.require_ground_truth) overrides.push_back("verify.require_ground_truth=true");

  const std::optional<std::string> config_path =
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config);
  auto cfg = config::LoadConfig(VerifySchema(), config_path, overrides);
  if (!cfg.ok()) return Fail(std::string(cfg.status().message()));
  auto options = OptionsFrom(*cfg);
  if (!options.ok()) return Fail(std::string(options.status().message()));
  if (flags.print_config) return PrintConfig(*cfg);

  data::VerifyPaths paths;
  paths.input = cfg->GetString("verify.input");
  fs::path out = cfg->GetString("verify.out");
  if (out.empty()) out = fs::path(paths.input).parent_path() / "verified";
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return Fail("cannot create output folder " + out.string() + ": " + ec.message());
  paths.accepted = (out / "accepted.jsonl").string();
  paths.rejected = (out / "rejected.jsonl").string();
  paths.report = (out / "verify_report.json").string();

  const int ngram = static_cast<int>(cfg->GetInt("verify.decontaminate_ngram"));  // 1..1000 by the schema
  auto eval = data::LoadEvalSet(cfg->GetStringList("verify.decontaminate"), ngram);
  if (!eval.ok()) return Fail(std::string(eval.status().message()));
  const size_t eval_texts = eval->sources.size();

  nlohmann::json extra = {{"config", config::ToJson(*cfg)},
                          {"decontamination", {{"files", eval->files}, {"texts", eval_texts}}}};
  auto counts = data::RunVerify(paths, *options, std::move(*eval), extra);
  if (!counts.ok()) return Fail(std::string(counts.status().message()));
  // Written once the outputs beside it are, so a run that fails (a mistyped input) leaves the previous one whole.
  if (auto s = config::WriteResolvedConfig(*cfg, (out / "resolved.yaml").string()); !s.ok()) {
    return Fail(std::string(s.message()));
  }

  constexpr size_t kShown = 20;
  for (size_t i = 0; i < counts->malformed_lines.size() && i < kShown; ++i) {
    std::fprintf(stderr, "distill verify: skipped malformed line: %s\n", counts->malformed_lines[i].second.c_str());
  }
  if (counts->malformed > static_cast<int64_t>(kShown)) {
    std::fprintf(stderr, "distill verify: … %lld more malformed lines (see %s)\n",
                 static_cast<long long>(counts->malformed - static_cast<int64_t>(kShown)), paths.report.c_str());
  }
  if (!flags.quiet) {
    std::printf("%s", data::FormatCountsTable(*counts).c_str());
    std::printf("accepted: %s\nrejected: %s\nreport:   %s\n", paths.accepted.c_str(), paths.rejected.c_str(),
                paths.report.c_str());
  }
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<VerifyFlags>();
  cmd.add_option("args", flags->args,
                 "traces JSONL and/or dotted overrides key=value (verify.filters.max_paragraph_chars=8000)");
  cmd.add_option("-i,--input", flags->input, "traces JSONL (instead of the positional file)");
  cmd.add_option("-o,--out", flags->out, "output folder (default: 'verified' beside the input)");
  cmd.add_option("--decontaminate", flags->decontaminate, "eval JSONL files to decontaminate against")
      ->expected(1, CLI::detail::expected_max_vector_size);
  cmd.add_option("-c,--config", flags->config, "run config YAML (keys under verify.)");
  cmd.add_flag("--no-dedup", flags->no_dedup, "keep exact duplicates");
  cmd.add_flag("--require-ground-truth", flags->require_ground_truth, "reject traces without ground_truth");
  cmd.add_flag("-q,--quiet", flags->quiet, "do not print the counts table");
  AddPrintConfigFlag(cmd, &flags->print_config);
  return [flags] { return RunVerify(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(verify, "verify",
                      "Grade and filter teacher traces into accepted/rejected JSONL (rejection sampling)", 40,
                      distill::cli::Setup);
