// One-trace verification (grading, filters, decontamination) and the de-duplicating Verifier.
#include "data/verify.h"

#include <algorithm>
#include <fstream>

#include "absl/status/status.h"
#include "data/answer_grader.h"

namespace distill::data {
namespace {

using nlohmann::json;

std::string_view TrimView(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// `s` shortened to at most `max` bytes on a code point boundary, with "..." when cut.
std::string Clip(std::string_view s, size_t max = 80) {
  s = TrimView(s);
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

std::string Quoted(std::string_view s) {
  std::string out(1, '"');
  out += Clip(s);
  out += '"';
  return out;
}

size_t WordCount(std::string_view joined) {
  if (joined.empty()) return 0;
  return static_cast<size_t>(std::count(joined.begin(), joined.end(), ' ')) + 1;
}

// Reasoning and answer as the checks see them: inline think tags in an answer with no separate reasoning are
// split out.
struct TraceText {
  std::string_view reasoning;
  std::string_view answer;
  bool inline_tags = false;
};

TraceText SplitTrace(const TraceRecord& trace) {
  TraceText text{trace.reasoning, trace.answer, false};
  if (TrimView(trace.reasoning).empty() && (trace.answer.find("<think>") != std::string::npos ||
                                            trace.answer.find("</think>") != std::string::npos)) {
    ThinkSplit split = SplitThinkBlock(trace.answer);
    text.reasoning = split.reasoning;
    text.answer = split.answer;
    text.inline_tags = true;
  }
  return text;
}

bool Ignored(const VerifyOptions& options, std::string_view code) {
  return std::find(options.ignore.begin(), options.ignore.end(), code) != options.ignore.end();
}

void Add(TraceVerdict* verdict, const VerifyOptions& options, std::string_view code, std::string detail) {
  if (Ignored(options, code) || verdict->HasReason(code)) return;
  verdict->reasons.push_back({std::string(code), std::move(detail)});
}

}  // namespace

const std::vector<std::string>& AllRejectCodes() {
  static const std::vector<std::string> codes = [] {
    std::vector<std::string> out;
    for (RejectReason r : {RejectReason::kNoThinkBlock, RejectReason::kUnclosedThinkBlock, RejectReason::kTruncated,
                           RejectReason::kEmptyAnswer, RejectReason::kLanguageMixing, RejectReason::kRepetition,
                           RejectReason::kTooShort, RejectReason::kTooLong, RejectReason::kLongParagraph,
                           RejectReason::kCodeBlock}) {
      out.emplace_back(RejectReasonName(r));
    }
    for (std::string_view code : {kWrongAnswer, kNoGroundTruth, kContaminated, kDuplicate}) out.emplace_back(code);
    return out;
  }();
  return codes;
}

bool TraceVerdict::HasReason(std::string_view code) const {
  return std::any_of(reasons.begin(), reasons.end(), [&](const VerifyReason& r) { return r.code == code; });
}

void AddEvalText(EvalSet* eval, std::string_view text, std::string source) {
  const auto id = static_cast<int64_t>(eval->sources.size());
  eval->sources.push_back(std::move(source));
  AddToNgramIndex(&eval->index, text, id);
}

absl::StatusOr<EvalSet> LoadEvalSet(const std::vector<std::string>& files, int ngram) {
  EvalSet eval;
  eval.index.n = ngram;
  eval.files = files;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::NotFoundError("cannot open eval file " + file);
    std::string line;
    int64_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (IsBlankLine(line)) continue;
      const std::string where = file + ":" + std::to_string(number);
      auto parsed = ParseJsonObjectLine(line, where);
      if (!parsed.ok()) return parsed.status();
      const json* text = nullptr;
      for (const char* key : {"problem", "prompt"}) {
        auto it = parsed->find(key);
        if (it != parsed->end()) {
          text = &*it;
          break;
        }
      }
      if (!text) return absl::InvalidArgumentError(where + ": missing field 'problem' or 'prompt' (a string)");
      if (text->is_string()) {
        AddEvalText(&eval, text->get_ref<const std::string&>(), where);
      } else if (text->is_array()) {
        AddEvalText(&eval, PromptText(*text), where);
      } else {
        return absl::InvalidArgumentError(where + ": field '" +
                                          std::string(parsed->contains("problem") ? "problem" : "prompt") +
                                          "': expected a string (or a messages array)");
      }
    }
    if (in.bad()) return absl::DataLossError("error reading eval file " + file);
  }
  return eval;
}

TraceVerdict VerifyTrace(const TraceRecord& trace, const VerifyOptions& options, const EvalSet* eval) {
  TraceVerdict verdict;
  const std::string prompt = PromptText(trace.messages);
  const TraceText text = SplitTrace(trace);

  TraceView view;
  view.reasoning = text.reasoning;
  view.answer = text.answer;
  view.finish_reason = trace.finish_reason;
  view.prompt = prompt;
  if (text.inline_tags) view.raw_content = trace.answer;
  if (options.use_usage_reasoning_tokens) view.reasoning_tokens = trace.usage.reasoning_tokens;
  switch (options.code_task) {
    case CodeTaskMode::kAlways: view.code_task = true; break;
    case CodeTaskMode::kNever: view.code_task = false; break;
    case CodeTaskMode::kAuto: {
      auto it = trace.extra.is_object() ? trace.extra.find("code_task") : trace.extra.end();
      if (trace.extra.is_object() && it != trace.extra.end() && it->is_boolean()) view.code_task = it->get<bool>();
      break;
    }
  }

  const bool no_reasoning = !text.inline_tags && TrimView(text.reasoning).empty() &&
                            !Ignored(options, RejectReasonName(RejectReason::kNoThinkBlock));
  if (no_reasoning) Add(&verdict, options, RejectReasonName(RejectReason::kNoThinkBlock), "the reasoning is empty");
  for (FilterVerdict& f : AllRejections(view, options.filters)) {
    // An empty reasoning is already "no think block"; "too short" would only repeat it.
    if (no_reasoning && f.reason == RejectReason::kTooShort) continue;
    Add(&verdict, options, RejectReasonName(f.reason), std::move(f.detail));
  }

  if (!trace.ground_truth) {
    verdict.note = "no ground truth: not graded";
    if (options.require_ground_truth) Add(&verdict, options, kNoGroundTruth, "the trace has no ground_truth");
  } else if (!options.grade) {
    verdict.note = "grading disabled";
  } else if (TrimView(text.answer).empty()) {
    verdict.note = "empty answer: not graded";
  } else {
    ExtractedAnswer extracted = ExtractFinalAnswer(text.answer);
    verdict.graded = true;
    verdict.extracted_answer = extracted.text;
    verdict.answer_source = std::string(AnswerSourceName(extracted.source));
    const bool correct =
        extracted.source != AnswerSource::kNone && AnswersEquivalent(extracted.text, *trace.ground_truth);
    verdict.correct = correct;
    if (!correct) {
      std::string detail =
          extracted.source == AnswerSource::kNone
              ? "no final answer (\\boxed{} or a number) in the answer; ground truth " + Quoted(*trace.ground_truth)
              : "answer " + Quoted(extracted.text) + " (" + verdict.answer_source +
                    ") does not match ground truth " + Quoted(*trace.ground_truth);
      Add(&verdict, options, kWrongAnswer, std::move(detail));
    }
  }

  if (eval && !eval->sources.empty()) {
    if (auto hit = FindContamination(eval->index, prompt)) {
      const std::string source = hit->source_id >= 0 && static_cast<size_t>(hit->source_id) < eval->sources.size()
                                     ? eval->sources[static_cast<size_t>(hit->source_id)]
                                     : "?";
      const bool whole = WordCount(hit->ngram) < static_cast<size_t>(std::max(1, eval->index.n));
      Add(&verdict, options, kContaminated,
          whole ? "prompt contains the whole eval problem " + Quoted(hit->ngram) + " (" + source + ")"
                : "prompt shares the " + std::to_string(eval->index.n) + "-gram " + Quoted(hit->ngram) +
                      " with eval problem " + source);
    }
  }
  return verdict;
}

uint64_t TraceDedupKey(const TraceRecord& trace) {
  const TraceText text = SplitTrace(trace);
  const uint64_t keys[3] = {DedupKey(PromptText(trace.messages)), DedupKey(text.reasoning), DedupKey(text.answer)};
  return Fnv1a64(std::string_view(reinterpret_cast<const char*>(keys), sizeof(keys)));
}

Verifier::Verifier(VerifyOptions options, EvalSet eval) : options_(std::move(options)), eval_(std::move(eval)) {}

TraceVerdict Verifier::Verify(const TraceRecord& trace, int64_t line) {
  TraceVerdict verdict = VerifyTrace(trace, options_, &eval_);
  if (!options_.dedup) return verdict;
  const uint64_t key = TraceDedupKey(trace);
  auto it = accepted_keys_.find(key);
  if (it != accepted_keys_.end()) {
    Add(&verdict, options_, kDuplicate,
        "same normalised prompt, reasoning and answer as an earlier accepted trace" +
            (it->second > 0 ? " (line " + std::to_string(it->second) + ")" : std::string()));
  } else if (verdict.accepted()) {
    accepted_keys_.emplace(key, line);
  }
  return verdict;
}

nlohmann::json VerdictToJson(const TraceVerdict& verdict, int64_t line) {
  json out = json::object();
  out["accepted"] = verdict.accepted();
  if (line > 0) out["line"] = line;
  if (!verdict.accepted()) {
    json reasons = json::array();
    for (const VerifyReason& r : verdict.reasons) reasons.push_back({{"code", r.code}, {"detail", r.detail}});
    out["reasons"] = std::move(reasons);
  }
  out["graded"] = verdict.graded;
  if (verdict.correct) out["correct"] = *verdict.correct;
  if (verdict.graded) {
    out["extracted_answer"] = verdict.extracted_answer;
    out["answer_source"] = verdict.answer_source;
  }
  if (!verdict.note.empty()) out["note"] = verdict.note;
  return out;
}

}  // namespace distill::data
