// Streaming `distill verify` over files: traces JSONL in, accepted / rejected JSONL and a counts report out.
#include <fstream>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "data/atomic_file.h"
#include "data/verify.h"

namespace distill::data {
namespace {

using nlohmann::json;

std::string DumpLine(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

void NoteMalformed(VerifyCounts* counts, int64_t line, const absl::Status& status) {
  ++counts->malformed;
  if (counts->malformed_lines.size() < VerifyCounts::kMaxMalformedListed) {
    counts->malformed_lines.emplace_back(line, std::string(status.message()));
  }
}

}  // namespace

absl::StatusOr<VerifyCounts> RunVerify(const VerifyPaths& paths, const VerifyOptions& options, EvalSet eval,
                                       const nlohmann::json& report_extra) {
  for (const std::string* out : {&paths.accepted, &paths.rejected, &paths.report}) {
    if (!out->empty() && SamePath(*out, paths.input)) {
      return absl::InvalidArgumentError("output " + *out + " would overwrite the input");
    }
  }
  std::ifstream in(paths.input, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open traces file " + paths.input);
  auto accepted = AtomicFile::Open(paths.accepted);
  if (!accepted.ok()) return accepted.status();
  auto rejected = AtomicFile::Open(paths.rejected);
  if (!rejected.ok()) return rejected.status();

  Verifier verifier(options, std::move(eval));
  VerifyCounts counts;
  std::string line;
  while (std::getline(in, line)) {
    const int64_t number = ++counts.lines;
    if (IsBlankLine(line)) continue;
    const std::string where = paths.input + ":" + std::to_string(number);
    absl::StatusOr<json> parsed = ParseJsonObjectLine(line, where);
    if (!parsed.ok()) {
      NoteMalformed(&counts, number, parsed.status());
      continue;
    }
    absl::StatusOr<TraceRecord> trace = TraceFromJson(*parsed, where);
    if (!trace.ok()) {
      NoteMalformed(&counts, number, trace.status());
      continue;
    }
    ++counts.traces;
    TraceVerdict verdict = verifier.Verify(*trace, number);
    if (verdict.graded) {
      ++counts.graded;
      if (verdict.correct.value_or(false)) ++counts.correct;
    } else {
      ++counts.ungraded;
    }
    json out = std::move(*parsed);
    out["verify"] = VerdictToJson(verdict, number);
    absl::Status written;
    if (verdict.accepted()) {
      ++counts.accepted;
      written = (*accepted)->Write(DumpLine(out));
    } else {
      ++counts.rejected;
      ++counts.first_reasons[verdict.reasons.front().code];
      for (const VerifyReason& r : verdict.reasons) ++counts.reasons[r.code];
      written = (*rejected)->Write(DumpLine(out));
    }
    if (!written.ok()) return written;
  }
  if (in.bad()) return absl::DataLossError("error reading " + paths.input + " after line " +
                                           std::to_string(counts.lines));
  if (auto s = (*accepted)->Commit(); !s.ok()) return s;
  if (auto s = (*rejected)->Commit(); !s.ok()) return s;
  if (!paths.report.empty()) {
    json extra = report_extra.is_object() ? report_extra : json::object();
    extra["input"] = paths.input;
    extra["accepted_file"] = paths.accepted;
    extra["rejected_file"] = paths.rejected;
    if (auto s = WriteFileAtomically(paths.report, CountsToJson(counts, extra).dump(2) + "\n"); !s.ok()) return s;
  }
  return counts;
}

nlohmann::json CountsToJson(const VerifyCounts& counts, const nlohmann::json& extra) {
  json out = extra.is_object() ? extra : json::object();
  out["lines"] = counts.lines;
  out["traces"] = counts.traces;
  out["accepted"] = counts.accepted;
  out["rejected"] = counts.rejected;
  out["malformed"] = counts.malformed;
  out["graded"] = counts.graded;
  out["correct"] = counts.correct;
  out["ungraded"] = counts.ungraded;
  json reasons = json::object();
  json first = json::object();
  for (const std::string& code : AllRejectCodes()) {
    auto any = counts.reasons.find(code);
    auto primary = counts.first_reasons.find(code);
    reasons[code] = any == counts.reasons.end() ? 0 : any->second;
    first[code] = primary == counts.first_reasons.end() ? 0 : primary->second;
  }
  out["reasons"] = std::move(reasons);
  out["first_reasons"] = std::move(first);
  json malformed = json::array();
  for (const auto& [line, error] : counts.malformed_lines) malformed.push_back({{"line", line}, {"error", error}});
  out["malformed_lines"] = std::move(malformed);
  out["malformed_lines_truncated"] = counts.malformed > static_cast<int64_t>(counts.malformed_lines.size());
  return out;
}

std::string FormatCountsTable(const VerifyCounts& counts) {
  std::string out = absl::StrFormat("%-22s %10s %10s\n", "reason", "rejected", "primary");
  std::set<std::string> listed;
  auto row = [&](const std::string& code) {
    auto any = counts.reasons.find(code);
    auto primary = counts.first_reasons.find(code);
    out += absl::StrFormat("%-22s %10d %10d\n", code, any == counts.reasons.end() ? 0 : any->second,
                           primary == counts.first_reasons.end() ? 0 : primary->second);
    listed.insert(code);
  };
  for (const std::string& code : AllRejectCodes()) row(code);
  for (const auto& [code, n] : counts.reasons) {
    if (!listed.count(code)) row(code);
  }
  out += absl::StrFormat("%d traces: %d accepted, %d rejected; %d malformed lines skipped; graded %d (%d correct), "
                         "%d not graded\n",
                         counts.traces, counts.accepted, counts.rejected, counts.malformed, counts.graded,
                         counts.correct, counts.ungraded);
  return out;
}

}  // namespace distill::data
