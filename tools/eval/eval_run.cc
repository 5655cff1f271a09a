// Eval run folders (samples.jsonl + eval.json) and the side-by-side comparison table (layouts in eval_run.h).
#include "tools/eval/eval_run.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "data/atomic_file.h"
#include "data/trace_record.h"

namespace distill::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

constexpr const char* kEvalJson = "eval.json";
constexpr const char* kSamplesJsonl = "samples.jsonl";

bool KnownBackend(const std::string& backend) {
  return backend == "endpoint" || backend == "torch" || backend == "gguf";
}

std::string Dump(const ordered_json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

ordered_json TokensJson(int64_t tokens) { return tokens >= 0 ? ordered_json(tokens) : ordered_json(nullptr); }

ordered_json SampleLine(const BenchmarkItem& item, const GradedSample& g) {
  ordered_json j;
  j["id"] = item.id;
  j["problem"] = item.problem;
  j["answer"] = item.answer;
  j["difficulty"] = item.difficulty;
  j["sample"] = g.sample_index;
  j["reasoning"] = g.reasoning;
  j["content"] = g.answer_text;
  j["separated"] = g.separated;
  j["finish_reason"] = g.finish_reason;
  j["reasoning_tokens"] = TokensJson(g.reasoning_tokens);
  j["answer_tokens"] = TokensJson(g.answer_tokens);
  j["extracted"] = g.extracted;
  j["correct"] = g.correct;
  j["think_ok"] = g.think_ok;
  j["truncated"] = g.truncated;
  j["loop"] = g.loop;
  j["language_mix"] = g.language_mix;
  if (!g.raw.empty()) j["raw"] = g.raw;
  return j;
}

// ---- Field readers: errors "<where>: \"key\" is … (expected …)".

absl::Status TypeError(const std::string& where, const std::string& key, const json& value,
                       const std::string& expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": \"", key, "\" is ", value.type_name(), " (expected ", expected, ")"));
}

absl::Status Missing(const std::string& where, const std::string& key, const std::string& expected) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": missing \"", key, "\" (expected ", expected, ")"));
}

absl::Status ReadString(const json& j, const std::string& key, const std::string& where, std::string* out,
                        bool required = true) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (!required) return absl::OkStatus();
    return Missing(where, key, "a string");
  }
  if (!it->is_string()) return TypeError(where, key, *it, "a string");
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadBool(const json& j, const std::string& key, const std::string& where, bool* out) {
  auto it = j.find(key);
  if (it == j.end()) return Missing(where, key, "true or false");
  if (!it->is_boolean()) return TypeError(where, key, *it, "true or false");
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status ReadInt(const json& j, const std::string& key, const std::string& where, int64_t min, int64_t* out) {
  const std::string expected = absl::StrCat("an integer >= ", min);
  auto it = j.find(key);
  if (it == j.end()) return Missing(where, key, expected);
  if (!it->is_number_integer() || it->get<int64_t>() < min) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" is ", it->dump(), " (expected ",
                                                   expected, ")"));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

// A token count: null (or absent, or -1) is unknown.
absl::Status ReadTokens(const json& j, const std::string& key, const std::string& where, int64_t* out) {
  *out = -1;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  return ReadInt(j, key, where, -1, out);
}

absl::StatusOr<json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError("error reading " + path);
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON (byte ", e.byte, ")"));
  }
}

// eval.json → info + metrics.
absl::Status ParseEvalJson(const std::string& path, EvalRun* run) {
  absl::StatusOr<json> parsed = ReadJsonFile(path);
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  if (!j.is_object()) return absl::InvalidArgumentError(path + ": expected a JSON object, got " + j.type_name());
  EvalRunInfo& info = run->info;
  for (auto [key, out] : {std::pair{"name", &info.name}, std::pair{"backend", &info.backend},
                          std::pair{"model", &info.model}, std::pair{"benchmark", &info.benchmark}}) {
    if (absl::Status s = ReadString(j, key, path, out); !s.ok()) return s;
  }
  if (!KnownBackend(info.backend)) {
    return absl::InvalidArgumentError(
        path + ": \"backend\" is \"" + info.backend + "\" (expected \"endpoint\", \"torch\" or \"gguf\")");
  }
  int64_t n = 0;
  if (absl::Status s = ReadInt(j, "samples_per_problem", path, 1, &n); !s.ok()) return s;
  info.samples_per_problem = static_cast<int>(n);
  auto settings = j.find("settings");
  if (settings != j.end() && !settings->is_null()) {
    if (!settings->is_object()) return TypeError(path, "settings", *settings, "an object");
    info.settings = *settings;
  }
  auto wall = j.find("wall_seconds");
  if (wall == j.end()) return Missing(path, "wall_seconds", "a number");
  if (!wall->is_number() || wall->get<double>() < 0) return TypeError(path, "wall_seconds", *wall, "a number >= 0");
  info.wall_seconds = wall->get<double>();
  auto metrics = j.find("metrics");
  if (metrics == j.end()) return Missing(path, "metrics", "an object");
  absl::StatusOr<EvalMetrics> m = MetricsFromJson(*metrics, path + ": \"metrics\"");
  if (!m.ok()) return m.status();
  if (m->samples_per_problem != info.samples_per_problem) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": \"metrics\" has samples_per_problem ",
                                                   m->samples_per_problem, " (expected ", n, " as at top level)"));
  }
  run->metrics_json = *metrics;
  run->metrics = std::move(*m);
  info.ks.clear();
  for (const auto& [k, v] : run->metrics.pass_at_k) info.ks.push_back(k);
  return absl::OkStatus();
}

// samples.jsonl → items + samples.
absl::Status ParseSamples(const std::string& path, EvalRun* run) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + path);
  const int n = run->info.samples_per_problem;
  std::map<std::string, int> item_of;                // id → index in run->items
  std::map<std::string, int64_t> item_line;          // id → line that introduced it
  std::map<std::pair<int, int>, int64_t> seen;       // (item, sample) → line
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (data::IsBlankLine(line)) continue;
    const std::string where = absl::StrCat(path, ":", number);
    absl::StatusOr<json> parsed = data::ParseJsonObjectLine(line, where);
    if (!parsed.ok()) return parsed.status();
    const json& j = *parsed;
    BenchmarkItem item;
    GradedSample g;
    for (auto [key, out] : {std::pair{"id", &item.id}, std::pair{"problem", &item.problem},
                            std::pair{"answer", &item.answer}, std::pair{"reasoning", &g.reasoning},
                            std::pair{"content", &g.answer_text}, std::pair{"extracted", &g.extracted}}) {
      if (absl::Status s = ReadString(j, key, where, out); !s.ok()) return s;
    }
    for (auto [key, out] : {std::pair{"difficulty", &item.difficulty}, std::pair{"finish_reason", &g.finish_reason},
                            std::pair{"raw", &g.raw}}) {
      if (absl::Status s = ReadString(j, key, where, out, /*required=*/false); !s.ok()) return s;
    }
    for (auto [key, out] : {std::pair{"correct", &g.correct}, std::pair{"think_ok", &g.think_ok},
                            std::pair{"truncated", &g.truncated}, std::pair{"loop", &g.loop},
                            std::pair{"language_mix", &g.language_mix}}) {
      if (absl::Status s = ReadBool(j, key, where, out); !s.ok()) return s;
    }
    if (j.contains("separated")) {
      if (absl::Status s = ReadBool(j, "separated", where, &g.separated); !s.ok()) return s;
    }
    if (absl::Status s = ReadTokens(j, "reasoning_tokens", where, &g.reasoning_tokens); !s.ok()) return s;
    if (absl::Status s = ReadTokens(j, "answer_tokens", where, &g.answer_tokens); !s.ok()) return s;
    int64_t sample = 0;
    if (absl::Status s = ReadInt(j, "sample", where, 0, &sample); !s.ok()) return s;
    if (sample >= n) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": \"sample\" is ", sample, " (expected 0 … ", n - 1,
                                                     " for samples_per_problem ", n, ")"));
    }
    g.sample_index = static_cast<int>(sample);
    auto [it, added] = item_of.emplace(item.id, static_cast<int>(run->items.size()));
    if (added) {
      item_line[item.id] = number;
      run->items.push_back(item);
    } else {
      const BenchmarkItem& first = run->items[it->second];
      if (first.problem != item.problem || first.answer != item.answer || first.difficulty != item.difficulty) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": id \"", item.id,
                                                       "\" has another problem, answer or difficulty than at line ",
                                                       item_line[item.id], " (expected the same)"));
      }
    }
    g.item_index = it->second;
    auto [dup, fresh] = seen.emplace(std::pair{g.item_index, g.sample_index}, number);
    if (!fresh) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": sample ", sample, " of id \"", item.id,
                                                     "\" repeats line ", dup->second, " (expected each once)"));
    }
    run->samples.push_back(std::move(g));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path, " after line ", number));
  std::vector<int> counts(run->items.size(), 0);
  for (const GradedSample& g : run->samples) ++counts[g.item_index];
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] != n) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": id \"", run->items[i].id, "\" (line ",
                                                     item_line[run->items[i].id], ") has ", counts[i],
                                                     " samples (expected samples_per_problem = ", n, ")"));
    }
  }
  if (static_cast<int64_t>(run->items.size()) != run->metrics.problems) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", run->items.size(), " problems (expected ",
                                                   run->metrics.problems, " as in eval.json's metrics)"));
  }
  return absl::OkStatus();
}

// ---- Comparison table.

struct Row {
  std::string label;
  std::vector<std::string> cells;
};

std::string Percent(double share) { return absl::StrFormat("%.1f%%", 100.0 * share); }

std::string Tokens(const std::optional<double>& mean) {
  return mean ? absl::StrFormat("%.1f", *mean) : std::string("n/a");
}

std::vector<Row> BuildRows(const std::vector<EvalRunSummary>& runs) {
  std::vector<Row> rows;
  auto add = [&](std::string label, auto cell) {
    Row row{std::move(label), {}};
    for (const EvalRunSummary& r : runs) row.cells.push_back(cell(r.metrics));
    rows.push_back(std::move(row));
  };
  std::set<int> ns, ks;
  std::set<std::string, NaturalLess> difficulties;
  for (const EvalRunSummary& r : runs) {
    ns.insert(r.metrics.samples_per_problem);
    for (const auto& [k, v] : r.metrics.pass_at_k) {
      if (k != 1) ks.insert(k);
    }
    for (const auto& [d, v] : r.metrics.by_difficulty) difficulties.insert(d);
  }
  const std::string maj = ns.size() == 1 ? absl::StrCat("maj@", *ns.begin()) : std::string("maj@n");
  add("problems", [](const EvalMetrics& m) { return absl::StrCat(m.problems); });
  add("samples/problem", [](const EvalMetrics& m) { return absl::StrCat(m.samples_per_problem); });
  add("pass@1", [](const EvalMetrics& m) { return Percent(m.pass_at_1); });
  add(maj, [&](const EvalMetrics& m) {
    return ns.size() == 1 ? Percent(m.maj_at_n) : absl::StrCat(Percent(m.maj_at_n), " (n=", m.samples_per_problem, ")");
  });
  for (int k : ks) {
    add(absl::StrCat("pass@", k), [k](const EvalMetrics& m) {
      auto it = m.pass_at_k.find(k);
      return it == m.pass_at_k.end() ? std::string("-") : Percent(it->second);
    });
  }
  add("think format ok", [](const EvalMetrics& m) { return Percent(m.think_format_rate); });
  add("mean reasoning tokens", [](const EvalMetrics& m) { return Tokens(m.mean_reasoning_tokens); });
  add("mean answer tokens", [](const EvalMetrics& m) { return Tokens(m.mean_answer_tokens); });
  add("truncated", [](const EvalMetrics& m) { return Percent(m.truncation_rate); });
  add("loops", [](const EvalMetrics& m) { return Percent(m.loop_rate); });
  add("language mix", [](const EvalMetrics& m) { return Percent(m.language_mix_rate); });
  for (const std::string& d : difficulties) {
    auto cell = [&d](const EvalMetrics& m, bool majority) {
      auto it = m.by_difficulty.find(d);
      if (it == m.by_difficulty.end()) return std::string("-");
      return absl::StrCat(Percent(majority ? it->second.maj_at_n : it->second.pass_at_1), " (",
                          it->second.problems, ")");
    };
    add(absl::StrCat("pass@1 ", d), [&](const EvalMetrics& m) { return cell(m, false); });
    add(absl::StrCat(maj, " ", d), [&](const EvalMetrics& m) { return cell(m, true); });
  }
  return rows;
}

// Display width: UTF-8 code points (continuation bytes are not counted).
size_t Width(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string Pad(const std::string& s, size_t width, bool right) {
  std::string pad(width > Width(s) ? width - Width(s) : 0, ' ');
  return right ? absl::StrCat(pad, s) : absl::StrCat(s, pad);
}

}  // namespace

absl::StatusOr<EvalMetrics> WriteEvalRun(const std::string& dir, const EvalRunInfo& info,
                                         const std::vector<BenchmarkItem>& items,
                                         const std::vector<GradedSample>& graded) {
  if (!KnownBackend(info.backend)) {
    return absl::InvalidArgumentError("eval run backend \"" + info.backend +
                                      "\" (expected \"endpoint\", \"torch\" or \"gguf\")");
  }
  if (!info.settings.is_object()) return absl::InvalidArgumentError("eval run settings must be a JSON object");
  absl::StatusOr<EvalMetrics> metrics = Summarize(items, graded, info.ks);
  if (!metrics.ok()) return metrics.status();
  if (info.samples_per_problem != 0 && info.samples_per_problem != metrics->samples_per_problem) {
    return absl::InvalidArgumentError(absl::StrCat("eval run says ", info.samples_per_problem,
                                                   " samples per problem but has ", metrics->samples_per_problem));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError("cannot create folder " + dir + ": " + ec.message());
  const std::string eval_path = (fs::path(dir) / kEvalJson).string();
  // A stale eval.json would mark the folder complete while samples.jsonl is replaced: remove it first.
  fs::remove(eval_path, ec);
  if (ec) return absl::InternalError("cannot remove the old " + eval_path + ": " + ec.message());

  absl::StatusOr<std::unique_ptr<data::AtomicFile>> samples =
      data::AtomicFile::Open((fs::path(dir) / kSamplesJsonl).string());
  if (!samples.ok()) return samples.status();
  for (const GradedSample& g : graded) {
    if (absl::Status s = (*samples)->Write(Dump(SampleLine(items[g.item_index], g)) + "\n"); !s.ok()) return s;
  }
  if (absl::Status s = (*samples)->Commit(); !s.ok()) return s;

  ordered_json j;
  j["name"] = info.name;
  j["backend"] = info.backend;
  j["model"] = info.model;
  j["benchmark"] = info.benchmark;
  j["samples_per_problem"] = metrics->samples_per_problem;
  j["settings"] = info.settings;
  j["metrics"] = MetricsToJson(*metrics);
  j["wall_seconds"] = info.wall_seconds;
  if (absl::Status s = data::WriteFileAtomically(eval_path, Dump(j, 2) + "\n"); !s.ok()) return s;
  return metrics;
}

absl::StatusOr<EvalRun> ReadEvalRun(const std::string& dir) {
  EvalRun run;
  if (absl::Status s = ParseEvalJson((fs::path(dir) / kEvalJson).string(), &run); !s.ok()) return s;
  if (absl::Status s = ParseSamples((fs::path(dir) / kSamplesJsonl).string(), &run); !s.ok()) return s;
  return run;
}

absl::StatusOr<EvalRunSummary> ReadEvalRunSummary(const std::string& dir) {
  EvalRun run;
  if (absl::Status s = ParseEvalJson((fs::path(dir) / kEvalJson).string(), &run); !s.ok()) return s;
  return SummaryOf(run);
}

EvalRunSummary SummaryOf(const EvalRun& run) {
  return EvalRunSummary{run.info.name, run.info.model, run.info.benchmark, run.metrics};
}

std::string FormatComparisonTable(const std::vector<EvalRunSummary>& runs) {
  std::vector<Row> rows = BuildRows(runs);
  Row header{"metric", {}};
  for (const EvalRunSummary& r : runs) header.cells.push_back(r.name);
  rows.insert(rows.begin(), std::move(header));
  size_t label_width = 0;
  std::vector<size_t> widths(runs.size(), 0);
  for (const Row& row : rows) {
    label_width = std::max(label_width, Width(row.label));
    for (size_t c = 0; c < row.cells.size(); ++c) widths[c] = std::max(widths[c], Width(row.cells[c]));
  }
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    absl::StrAppend(&out, Pad(rows[r].label, label_width, false));
    for (size_t c = 0; c < rows[r].cells.size(); ++c) {
      absl::StrAppend(&out, "  ", Pad(rows[r].cells[c], widths[c], true));
    }
    absl::StrAppend(&out, "\n");
    if (r == 0) {
      absl::StrAppend(&out, std::string(label_width, '-'));
      for (size_t w : widths) absl::StrAppend(&out, "  ", std::string(w, '-'));
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

std::string FormatComparisonMarkdown(const std::vector<EvalRunSummary>& runs) {
  // absl::StrAppend rather than "x" + std::string: GCC 12 reports a false -Wrestrict on the latter.
  auto escape = [](const std::string& s) { return absl::StrReplaceAll(s, {{"|", "\\|"}}); };
  std::string out = "| metric |";
  std::string rule = "| --- |";
  for (const EvalRunSummary& r : runs) {
    absl::StrAppend(&out, " ", escape(r.name), " |");
    absl::StrAppend(&rule, " ---: |");
  }
  absl::StrAppend(&out, "\n", rule, "\n");
  for (const Row& row : BuildRows(runs)) {
    absl::StrAppend(&out, "| ", escape(row.label), " |");
    for (const std::string& cell : row.cells) absl::StrAppend(&out, " ", escape(cell), " |");
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace distill::eval
