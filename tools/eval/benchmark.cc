// Benchmark JSONL reader and the converter from public benchmark exports (layouts in benchmark.h).
#include "tools/eval/benchmark.h"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/atomic_file.h"
#include "data/trace_record.h"
#include "nlohmann/json.hpp"

namespace distill::eval {
namespace {

using nlohmann::json;

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Decimal text of a JSON number ("42", "0.5"; integral doubles print without ".0"), or nullopt for a
// non-number or a non-finite one.
std::optional<std::string> NumberText(const json& j) {
  if (j.is_number_unsigned()) return std::to_string(j.get<uint64_t>());
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  if (!j.is_number_float()) return std::nullopt;
  double d = j.get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  return j.dump();
}

// The text of a string-or-number field; an error names the key and what was expected.
absl::StatusOr<std::string> TextField(const json& j, const std::string& key, const std::string& where,
                                      bool allow_number) {
  const std::string expected = allow_number ? "a non-empty string or a number" : "a non-empty string";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": missing \"", key, "\" (expected ", expected, ")"));
  }
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (absl::StripAsciiWhitespace(s).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" is empty (expected ", expected, ")"));
    }
    return s;
  }
  if (allow_number) {
    if (std::optional<std::string> text = NumberText(*it)) return *text;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": \"", key, "\" is ", it->type_name(), " (expected ", expected, ")"));
}

// An optional id (string or integer); `fallback` when absent or null.
absl::StatusOr<std::string> IdField(const json& j, const std::string& key, const std::string& where,
                                    int64_t fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::to_string(fallback);
  if (it->is_string() && !absl::StripAsciiWhitespace(it->get_ref<const std::string&>()).empty()) {
    return it->get<std::string>();
  }
  if (it->is_number_integer()) return *NumberText(*it);
  return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" is ",
                                                 it->is_string() ? "an empty string" : it->type_name(),
                                                 " (expected a non-empty string or an integer)"));
}

// An optional difficulty (string or number); "" when absent or null.
absl::StatusOr<std::string> DifficultyField(const json& j, const std::string& key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (it->is_string()) return std::string(absl::StripAsciiWhitespace(it->get_ref<const std::string&>()));
  if (std::optional<std::string> text = NumberText(*it)) return *text;
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": \"", key, "\" is ", it->type_name(), " (expected a string or a number)"));
}

absl::StatusOr<BenchmarkItem> ItemFromJson(const json& j, const std::string& where, int64_t line) {
  BenchmarkItem item;
  absl::StatusOr<std::string> problem = TextField(j, "problem", where, /*allow_number=*/false);
  if (!problem.ok()) return problem.status();
  absl::StatusOr<std::string> answer = TextField(j, "answer", where, /*allow_number=*/true);
  if (!answer.ok()) return answer.status();
  absl::StatusOr<std::string> id = IdField(j, "id", where, line);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> difficulty = DifficultyField(j, "difficulty", where);
  if (!difficulty.ok()) return difficulty.status();
  item.id = std::move(*id);
  item.problem = std::move(*problem);
  item.answer = std::string(absl::StripAsciiWhitespace(*answer));
  item.difficulty = std::move(*difficulty);
  return item;
}

// Remembers ids and refuses a repeated one, naming both places.
class IdSet {
 public:
  absl::Status Add(const std::string& id, const std::string& where, const std::string& place) {
    auto [it, inserted] = first_.emplace(id, place);
    if (inserted) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": duplicate id \"", id, "\" (first used at ", it->second, "; expected unique ids)"));
  }

 private:
  std::map<std::string, std::string> first_;
};

// One input record of the converter: where it is ("FILE:LINE" / "FILE: element N"), its 1-based number and value.
struct Record {
  std::string where;
  std::string place;  // "line N" / "element N", for duplicate-id messages
  int64_t number = 0;
  json value;
};

absl::StatusOr<std::vector<Record>> ReadRecords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open benchmark export " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError("error reading " + path);
  std::string text = buffer.str();
  if (std::string_view(text).substr(0, kBom.size()) == kBom) text.erase(0, kBom.size());
  std::vector<Record> records;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {  // one JSON array of records
    json all;
    try {
      all = json::parse(text);
    } catch (const json::parse_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not valid JSON (byte ", e.byte, "; expected a JSON array of objects or JSONL)"));
    }
    for (size_t i = 0; i < all.size(); ++i) {
      Record r{absl::StrCat(path, ": element ", i + 1), absl::StrCat("element ", i + 1),
               static_cast<int64_t>(i + 1), std::move(all[i])};
      if (!r.value.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(r.where, ": expected a JSON object, got ", r.value.type_name()));
      }
      records.push_back(std::move(r));
    }
    return records;
  }
  std::istringstream lines(text);
  std::string line;
  int64_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (data::IsBlankLine(line)) continue;
    std::string where = absl::StrCat(path, ":", number);
    absl::StatusOr<json> parsed = data::ParseJsonObjectLine(line, where);
    if (!parsed.ok()) return parsed.status();
    records.push_back(Record{std::move(where), absl::StrCat("line ", number), number, std::move(*parsed)});
  }
  return records;
}

// The first of `keys` present (not null) in `j`, or "".
std::string FirstKey(const json& j, const std::vector<std::string_view>& keys) {
  for (std::string_view key : keys) {
    auto it = j.find(key);
    if (it != j.end() && !it->is_null()) return std::string(key);
  }
  return "";
}

const std::vector<std::string_view> kAimeIdKeys = {"id", "ID", "Id"};
const std::vector<std::string_view> kAimeProblemKeys = {"problem", "Problem", "question", "Question"};
const std::vector<std::string_view> kAimeAnswerKeys = {"answer", "Answer"};

absl::StatusOr<std::string> DetectFormat(const Record& r) {
  const json& j = r.value;
  if (j.contains("unique_id") || j.contains("level")) return std::string("math500");
  auto answer = j.find("answer");
  if (j.contains("question") && answer != j.end() && answer->is_string() &&
      answer->get_ref<const std::string&>().find("####") != std::string::npos) {
    return std::string("gsm8k");
  }
  if (!FirstKey(j, kAimeProblemKeys).empty() && !FirstKey(j, kAimeAnswerKeys).empty()) return std::string("aime");
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return absl::InvalidArgumentError(absl::StrCat(
      r.where, ": cannot tell the layout from the keys [", absl::StrJoin(keys, ", "),
      "] (expected math500: problem/answer/level/unique_id; gsm8k: question/answer with \"####\"; aime: "
      "problem|Problem|question with answer|Answer)"));
}

// "level 3" from 3, "Level 3" or "3"; "" when absent.
absl::StatusOr<std::string> Math500Level(const json& j, const std::string& where) {
  absl::StatusOr<std::string> level = DifficultyField(j, "level", where);
  if (!level.ok() || level->empty()) return level;
  std::string lower = absl::AsciiStrToLower(*level);
  if (lower.rfind("level", 0) == 0) return lower;
  return "level " + lower;
}

// The final answer of a GSM8K solution: the text after the last "####", thousands commas removed.
absl::StatusOr<std::string> Gsm8kAnswer(const json& j, const std::string& where) {
  absl::StatusOr<std::string> solution = TextField(j, "answer", where, /*allow_number=*/true);
  if (!solution.ok()) return solution.status();
  auto value = j.find("answer");
  if (!value->is_string()) return solution;  // already a bare number
  size_t mark = solution->rfind("####");
  if (mark == std::string::npos) {
    return absl::InvalidArgumentError(
        where + ": \"answer\" has no \"####\" (expected a GSM8K solution ending in \"#### <answer>\")");
  }
  std::string answer(absl::StripAsciiWhitespace(solution->substr(mark + 4)));
  // Remove commas that sit between digits ("1,234" → "1234"); a comma elsewhere is kept.
  std::string cleaned;
  for (size_t i = 0; i < answer.size(); ++i) {
    if (answer[i] == ',' && i > 0 && i + 1 < answer.size() && std::isdigit(static_cast<unsigned char>(answer[i - 1])) &&
        std::isdigit(static_cast<unsigned char>(answer[i + 1]))) {
      continue;
    }
    cleaned += answer[i];
  }
  if (cleaned.empty()) {
    return absl::InvalidArgumentError(where + ": nothing after \"####\" in \"answer\" (expected the final answer)");
  }
  return cleaned;
}

absl::StatusOr<BenchmarkItem> ConvertRecord(const Record& r, const std::string& format) {
  const json& j = r.value;
  BenchmarkItem item;
  std::string problem_key = "problem", answer_key = "answer", id_key = "id";
  if (format == "gsm8k") {
    problem_key = j.contains("question") ? "question" : "problem";
  } else if (format == "aime") {
    problem_key = FirstKey(j, kAimeProblemKeys);
    answer_key = FirstKey(j, kAimeAnswerKeys);
    id_key = FirstKey(j, kAimeIdKeys);
    if (problem_key.empty()) {
      return absl::InvalidArgumentError(r.where + ": missing the problem (expected a non-empty string under "
                                        "\"problem\", \"Problem\", \"question\" or \"Question\")");
    }
    if (answer_key.empty()) {
      return absl::InvalidArgumentError(r.where + ": missing the answer (expected a string or a number under "
                                        "\"answer\" or \"Answer\")");
    }
    if (id_key.empty()) id_key = "id";
  } else if (format == "math500") {
    id_key = "unique_id";
  }
  absl::StatusOr<std::string> problem = TextField(j, problem_key, r.where, /*allow_number=*/false);
  if (!problem.ok()) return problem.status();
  absl::StatusOr<std::string> answer =
      format == "gsm8k" ? Gsm8kAnswer(j, r.where) : TextField(j, answer_key, r.where, /*allow_number=*/true);
  if (!answer.ok()) return answer.status();
  absl::StatusOr<std::string> id = IdField(j, id_key, r.where, r.number);
  if (!id.ok()) return id.status();
  if (format == "math500") {
    absl::StatusOr<std::string> level = Math500Level(j, r.where);
    if (!level.ok()) return level.status();
    item.difficulty = std::move(*level);
  } else if (format == "aime") {  // a file already in our format (detected as aime) keeps its difficulties
    absl::StatusOr<std::string> difficulty = DifficultyField(j, "difficulty", r.where);
    if (!difficulty.ok()) return difficulty.status();
    item.difficulty = std::move(*difficulty);
  }
  item.id = std::move(*id);
  item.problem = std::move(*problem);
  item.answer = std::string(absl::StripAsciiWhitespace(*answer));
  return item;
}

}  // namespace

absl::StatusOr<std::vector<BenchmarkItem>> ReadBenchmark(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open benchmark file " + path);
  std::vector<BenchmarkItem> items;
  IdSet ids;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 && std::string_view(line).substr(0, kBom.size()) == kBom) line.erase(0, kBom.size());
    if (data::IsBlankLine(line)) continue;
    const std::string where = absl::StrCat(path, ":", number);
    absl::StatusOr<json> parsed = data::ParseJsonObjectLine(line, where);
    if (!parsed.ok()) return parsed.status();
    absl::StatusOr<BenchmarkItem> item = ItemFromJson(*parsed, where, number);
    if (!item.ok()) return item.status();
    if (absl::Status s = ids.Add(item->id, where, absl::StrCat("line ", number)); !s.ok()) return s;
    items.push_back(std::move(*item));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path, " after line ", number));
  if (items.empty()) {
    return absl::InvalidArgumentError(path + ": no problems (expected one JSON object per line)");
  }
  return items;
}

std::string BenchmarkItemToJsonLine(const BenchmarkItem& item) {
  nlohmann::ordered_json j;
  j["id"] = item.id;
  j["problem"] = item.problem;
  j["answer"] = item.answer;
  if (!item.difficulty.empty()) j["difficulty"] = item.difficulty;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<ConvertReport> ConvertBenchmark(const std::string& in, const std::string& format,
                                               const std::string& out) {
  if (format != "auto" && format != "math500" && format != "aime" && format != "gsm8k") {
    return absl::InvalidArgumentError("unknown benchmark format \"" + format +
                                      "\" (expected auto, math500, aime or gsm8k)");
  }
  std::error_code ec;
  if (in == out || (std::filesystem::exists(out, ec) && std::filesystem::equivalent(in, out, ec))) {
    return absl::InvalidArgumentError("output " + out + " would overwrite the input");
  }
  absl::StatusOr<std::vector<Record>> records = ReadRecords(in);
  if (!records.ok()) return records.status();
  if (records->empty()) return absl::InvalidArgumentError(in + ": no records (expected JSONL or a JSON array)");
  ConvertReport report;
  report.format = format;
  if (format == "auto") {
    absl::StatusOr<std::string> detected = DetectFormat(records->front());
    if (!detected.ok()) return detected.status();
    report.format = *detected;
  }
  std::string output;
  IdSet ids;
  for (const Record& r : *records) {
    absl::StatusOr<BenchmarkItem> item = ConvertRecord(r, report.format);
    if (!item.ok()) return item.status();
    if (absl::Status s = ids.Add(item->id, r.where, r.place); !s.ok()) return s;
    output += BenchmarkItemToJsonLine(*item);
    output += '\n';
    ++report.items;
  }
  if (absl::Status s = data::WriteFileAtomically(out, output); !s.ok()) return s;
  return report;
}

}  // namespace distill::eval
