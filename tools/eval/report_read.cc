// `distill report`'s reading side: train and eval run folders parsed into the Report* structs, with errors that
// name the file and line. The HTML side is report.cc.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "tokenizers/file_util.h"
#include "tools/eval/metrics.h"
#include "tools/eval/report.h"

namespace distill::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kMetricsFile = "metrics.jsonl";
constexpr const char* kEvalFile = "eval.json";
constexpr const char* kSamplesFile = "samples.jsonl";

// "[json.exception.parse_error.101] parse error at line 1, column 5: …" → "parse error at line 1, column 5: …".
std::string JsonMessage(const std::exception& e) {
  std::string m = e.what();
  if (m.rfind("[json.exception.", 0) == 0) {
    const size_t close = m.find("] ");
    if (close != std::string::npos) m = m.substr(close + 2);
  }
  return m;
}

// Typed field access: missing or null is "absent"; a value of another type is an error naming `where` and the key.
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  const absl::Status& status() const { return status_; }

  std::optional<double> Number(const char* key) {
    const json* v = Find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) return Fail<double>(key, "a number");
    return v->get<double>();
  }

  std::optional<int64_t> Integer(const char* key) {
    const json* v = Find(key);
    if (!v) return std::nullopt;
    if (v->is_number_integer() || v->is_number_unsigned()) return v->get<int64_t>();
    if (v->is_number_float()) {
      const double d = v->get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9e15) return static_cast<int64_t>(d);
    }
    return Fail<int64_t>(key, "an integer");
  }

  std::string String(const char* key) {
    const json* v = Find(key);
    if (!v) return "";
    if (v->is_string()) return v->get<std::string>();
    if (v->is_number()) return v->dump();  // ids and answers are sometimes numbers
    Fail<int>(key, "a string");
    return "";
  }

  bool Bool(const char* key) {
    const json* v = Find(key);
    if (!v) return false;
    if (!v->is_boolean()) return Fail<bool>(key, "true or false").value_or(false);
    return v->get<bool>();
  }

  const json* Object(const char* key) {
    const json* v = Find(key);
    if (!v) return nullptr;
    if (!v->is_object()) {
      Fail<int>(key, "an object");
      return nullptr;
    }
    return v;
  }

 private:
  const json* Find(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  template <typename T>
  std::optional<T> Fail(const char* key, const char* expected) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(absl::StrCat(where_, ": \"", key, "\" must be ", expected));
    }
    return std::nullopt;
  }

  const json& object_;
  std::string where_;
  absl::Status status_;
};

// Calls `line_fn(text, line_number)` per non-blank line (numbers from 1). An unfinished last line (no '\n') that
// does not parse is left out unless `keep_unfinished` (a writer may be appending it right now).
template <typename Fn>
absl::Status ForEachLine(const std::string& data, bool keep_unfinished, Fn line_fn) {
  size_t pos = 0;
  int64_t number = 0;
  while (pos < data.size()) {
    ++number;
    size_t end = data.find('\n', pos);
    const bool finished = end != std::string::npos;
    if (!finished) end = data.size();
    std::string_view line(data.data() + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (!finished && !keep_unfinished) {
      // The writer has not finished this line yet: if it does not parse, leave it out.
      if (!json::accept(line)) break;
    }
    if (absl::Status s = line_fn(line, number); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<json> ParseLine(std::string_view line, const std::string& where) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON (", JsonMessage(e), ")"));
  }
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": expected a JSON object"));
  return j;
}

// `name`, or "name (2)", "name (3)" … when taken; records the result in `used`.
std::string UniqueName(const std::string& name, std::set<std::string>& used) {
  std::string candidate = name;
  for (int i = 2; used.count(candidate); ++i) candidate = absl::StrCat(name, " (", i, ")");
  used.insert(candidate);
  return candidate;
}

}  // namespace

absl::StatusOr<ReportTrainRun> ReadReportTrainRun(const std::string& dir) {
  const fs::path folder(dir);
  const fs::path path = folder / kMetricsFile;
  auto data = tok::ReadFileToString(path.string());
  if (!data.ok()) return data.status();
  ReportTrainRun run;
  run.dir = dir;
  run.name = folder.filename().empty() ? folder.parent_path().filename().string() : folder.filename().string();
  for (const char* config : {"resolved.yaml", "config.yaml", "config.json"}) {
    std::error_code ec;
    if (fs::is_regular_file(folder / config, ec)) {
      run.config_file = config;
      break;
    }
  }
  const std::string file = path.string();
  absl::Status s = ForEachLine(*data, false, [&](std::string_view line, int64_t number) -> absl::Status {
    const std::string where = absl::StrCat(file, ":", number);
    auto j = ParseLine(line, where);
    if (!j.ok()) return j.status();
    Fields f(*j, where);
    ReportTrainPoint p;
    const std::optional<int64_t> step = f.Integer("step");
    if (f.status().ok() && !step) return absl::InvalidArgumentError(absl::StrCat(where, ": missing \"step\""));
    p.step = step.value_or(0);
    p.epoch = f.Number("epoch");
    p.loss = f.Number("loss");
    p.lr = f.Number("lr");
    p.grad_norm = f.Number("grad_norm");
    p.tokens = f.Number("tokens");
    p.tokens_per_s = f.Number("tokens_per_s");
    p.memory_mb = f.Number("memory_mb");
    p.val_loss = f.Number("val_loss");
    if (!f.status().ok()) return f.status();
    run.points.push_back(p);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return run;
}

absl::StatusOr<ReportEvalRun> ReadReportEvalRun(const std::string& dir) {
  const fs::path folder(dir);
  const fs::path path = folder / kEvalFile;
  const std::string file = path.string();
  auto data = tok::ReadFileToString(path.string());
  if (!data.ok()) return data.status();
  json j;
  try {
    j = json::parse(*data);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": invalid JSON (", JsonMessage(e), ")"));
  }
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(file, ": expected a JSON object"));

  ReportEvalRun run;
  run.dir = dir;
  Fields f(j, file);
  run.name = f.String("name");
  if (run.name.empty()) {
    run.name = folder.filename().empty() ? folder.parent_path().filename().string() : folder.filename().string();
  }
  run.backend = f.String("backend");
  run.model = f.String("model");
  run.benchmark = f.String("benchmark");
  run.samples_per_problem = f.Integer("samples_per_problem");
  run.wall_seconds = f.Number("wall_seconds");
  if (const json* settings = f.Object("settings")) run.settings = *settings;
  const json* metrics = f.Object("metrics");
  if (!f.status().ok()) return f.status();
  if (metrics) {
    const std::string where = file + ": metrics";
    Fields m(*metrics, where);
    ReportEvalMetrics& out = run.metrics;
    out.problems = m.Integer("problems");
    out.samples = m.Integer("samples");
    out.pass1 = m.Number("pass@1");
    out.maj = m.Number("maj@n");
    out.think_format_rate = m.Number("think_format_rate");
    out.truncation_rate = m.Number("truncation_rate");
    out.loop_rate = m.Number("loop_rate");
    out.language_mix_rate = m.Number("language_mix_rate");
    out.mean_reasoning_tokens = m.Number("mean_reasoning_tokens");
    out.mean_answer_tokens = m.Number("mean_answer_tokens");
    if (!run.samples_per_problem) run.samples_per_problem = m.Integer("samples_per_problem");
    if (const json* pass_at_k = m.Object("pass@k")) {
      for (const auto& [key, value] : pass_at_k->items()) {
        int64_t k = 0;
        const bool digits = !key.empty() && key.size() < 10 &&
                            std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digits) k = std::stoll(key);
        if (!digits || k < 1) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": \"pass@k\" key \"", key, "\" is not a k ≥ 1"));
        }
        if (value.is_null()) continue;
        if (!value.is_number()) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": \"pass@k\".\"", key, "\" must be a number"));
        }
        out.pass_at_k[k] = value.get<double>();
      }
    }
    if (const json* by = m.Object("by_difficulty")) {
      for (const auto& [level, value] : by->items()) {
        if (!value.is_object()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": \"by_difficulty\".\"", level, "\" must be an object"));
        }
        Fields d(value, absl::StrCat(where, ": by_difficulty \"", level, "\""));
        ReportDifficulty diff{d.Integer("problems"), d.Number("pass@1"), d.Number("maj@n")};
        if (!d.status().ok()) return d.status();
        out.by_difficulty.emplace_back(level, diff);
      }
      std::stable_sort(out.by_difficulty.begin(), out.by_difficulty.end(),
                       [](const auto& a, const auto& b) { return NaturalLess{}(a.first, b.first); });
    }
    if (!m.status().ok()) return m.status();
  }

  const fs::path samples_path = folder / kSamplesFile;
  std::error_code ec;
  if (!fs::exists(samples_path, ec)) return run;
  auto samples = tok::ReadFileToString(samples_path.string());
  if (!samples.ok()) return samples.status();
  run.has_samples = true;
  const std::string samples_file = samples_path.string();
  absl::Status s = ForEachLine(*samples, true, [&](std::string_view line, int64_t number) -> absl::Status {
    const std::string where = absl::StrCat(samples_file, ":", number);
    auto sj = ParseLine(line, where);
    if (!sj.ok()) return sj.status();
    Fields sf(*sj, where);
    ReportSample x;
    x.id = sf.String("id");
    x.problem = sf.String("problem");
    x.answer = sf.String("answer");
    x.difficulty = sf.String("difficulty");
    x.sample = sf.Integer("sample").value_or(0);
    x.reasoning = sf.String("reasoning");
    x.content = sf.String("content");
    x.finish_reason = sf.String("finish_reason");
    x.reasoning_tokens = sf.Integer("reasoning_tokens").value_or(-1);
    x.answer_tokens = sf.Integer("answer_tokens").value_or(-1);
    x.extracted = sf.String("extracted");
    x.correct = sf.Bool("correct");
    x.think_ok = sf.Bool("think_ok");
    x.truncated = sf.Bool("truncated");
    x.loop = sf.Bool("loop");
    x.language_mix = sf.Bool("language_mix");
    if (!sf.status().ok()) return sf.status();
    run.samples.push_back(std::move(x));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return run;
}

absl::StatusOr<ReportInputs> ScanReportInputs(const std::vector<std::string>& dirs) {
  if (dirs.empty()) return absl::InvalidArgumentError("no run folders given");
  ReportInputs inputs;
  inputs.dirs = dirs;
  std::set<std::string> seen;  // canonical folders already read
  std::set<std::string> train_names, eval_names;

  // Reads the runs `folder` holds; returns how many.
  auto scan = [&](const fs::path& folder) -> absl::StatusOr<int> {
    std::error_code ec;
    const std::string canonical = fs::weakly_canonical(folder, ec).string();
    if (!seen.insert(ec ? folder.string() : canonical).second) return 1;  // already in the report
    int found = 0;
    if (fs::is_regular_file(folder / kMetricsFile, ec)) {
      auto run = ReadReportTrainRun(folder.string());
      if (!run.ok()) return run.status();
      run->name = UniqueName(run->name, train_names);
      inputs.train_runs.push_back(std::move(*run));
      ++found;
    }
    if (fs::is_regular_file(folder / kEvalFile, ec)) {
      auto run = ReadReportEvalRun(folder.string());
      if (!run.ok()) return run.status();
      run->name = UniqueName(run->name, eval_names);
      inputs.eval_runs.push_back(std::move(*run));
      ++found;
    }
    return found;
  };

  for (const std::string& dir : dirs) {
    std::error_code ec;
    const fs::path folder(dir);
    if (!fs::exists(folder, ec)) return absl::NotFoundError(absl::StrCat(dir, ": no such folder"));
    if (!fs::is_directory(folder, ec)) return absl::InvalidArgumentError(absl::StrCat(dir, ": not a folder"));
    auto found = scan(folder);
    if (!found.ok()) return found.status();
    int total = *found;
    std::vector<fs::path> subfolders;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string leaf = it->path().filename().string();
      std::error_code dir_ec;
      if (!leaf.empty() && leaf[0] != '.' && it->is_directory(dir_ec)) subfolders.push_back(it->path());
    }
    if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot list: ", ec.message()));
    std::sort(subfolders.begin(), subfolders.end());
    for (const fs::path& sub : subfolders) {
      auto n = scan(sub);
      if (!n.ok()) return n.status();
      total += *n;
    }
    if (total == 0) {
      return absl::InvalidArgumentError(absl::StrCat(dir, ": no train run (", kMetricsFile, ") or eval run (",
                                                     kEvalFile, ") in it or its subfolders"));
    }
  }
  return inputs;
}
}  // namespace distill::eval
