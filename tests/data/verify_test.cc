// `distill verify` library: every reject reason on a handcrafted traces file with exact counts, de-dup (first
// kept), 13-gram decontamination, malformed lines reported by line number, complete outputs written
// temp-then-rename, and the one-trace API the collector calls inline.
#include "data/verify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace distill::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("distill_verify_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

std::vector<json> ReadJsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

const char* kPrompt = "What is 2+3?";

// A trace line that passes every check: distinct reasoning per `tag` so no two are duplicates.
json Trace(const std::string& id, const std::string& tag) {
  return {{"prompt_id", id},
          {"sample_index", 0},
          {"messages", json::array({{{"role", "user"}, {"content", kPrompt}}})},
          {"ground_truth", "5"},
          {"reasoning", "Adding two and three gives five; checked again for case " + tag + "."},
          {"answer", "The answer is \\boxed{5}."},
          {"finish_reason", "stop"}};
}

std::string LongParagraph() {
  std::string s = "We add";
  for (int i = 0; i < 40; ++i) s += " then step " + std::to_string(i) + " adds nothing new";
  return s + ".";
}

const char* kEvalProblem =
    "Let x be the smallest positive integer such that x squared leaves remainder one when divided by seven";

VerifyOptions TestOptions() {
  VerifyOptions o;
  o.filters.min_reasoning_chars = 10;
  o.filters.max_paragraph_chars = 300;
  return o;
}

// The handcrafted file: one line per reject reason plus accepted, ungraded, duplicate, malformed and blank lines.
// Returns the expected primary reason per prompt_id ("" = accepted).
std::map<std::string, std::string> WriteHandcrafted(const std::string& path, const std::string& eval_path) {
  std::map<std::string, std::string> expected;
  std::vector<std::string> lines;
  auto add = [&](json j, const std::string& primary) {
    expected[j["prompt_id"]] = primary;
    lines.push_back(j.dump());
  };
  add(Trace("ok", "ok"), "");                                                                   // line 1
  json ungraded = Trace("ungraded", "ungraded");
  ungraded.erase("ground_truth");
  add(ungraded, "");                                                                            // line 2
  json no_think = Trace("no_think", "x");
  no_think["reasoning"] = "";
  add(no_think, "no_think_block");                                                              // line 3
  json unclosed = Trace("unclosed", "x");
  unclosed["reasoning"] = "";
  unclosed["answer"] = "<think>Adding two and three gives five, so";
  add(unclosed, "unclosed_think_block");                                                        // line 4
  json truncated = Trace("truncated", "truncated");
  truncated["finish_reason"] = "length";
  add(truncated, "truncated");                                                                  // line 5
  json empty = Trace("empty_answer", "empty");
  empty["answer"] = "  \n";
  add(empty, "empty_answer");                                                                   // line 6
  json mixing = Trace("mixing", "x");
  mixing["reasoning"] = "Adding two and three 我们需要计算这个问题的答案然后得到最后的结果 gives five.";
  add(mixing, "language_mixing");                                                              // line 7
  json repetition = Trace("repetition", "x");
  std::string loop;
  for (int i = 0; i < 12; ++i) loop += "Wait, let me add two and three again.\n";
  repetition["reasoning"] = loop;
  add(repetition, "repetition");                                                                // line 8
  json short_trace = Trace("too_short", "x");
  short_trace["reasoning"] = "2+3=5";
  add(short_trace, "too_short");                                                                // line 9
  json too_long = Trace("too_long", "too_long");
  too_long["usage"] = {{"prompt_tokens", 10}, {"completion_tokens", 40010}, {"reasoning_tokens", 40000}};
  add(too_long, "too_long");                                                                    // line 10
  json paragraph = Trace("long_paragraph", "x");
  paragraph["reasoning"] = LongParagraph();
  add(paragraph, "long_paragraph");                                                             // line 11
  json code = Trace("code_block", "code");
  code["answer"] = "```python\nprint(2 + 3)\n```\nSo \\boxed{5}.";
  add(code, "code_block");                                                                      // line 12
  json wrong = Trace("wrong", "wrong");
  wrong["answer"] = "\\boxed{6}";
  add(wrong, "wrong_answer");                                                                   // line 13
  json contaminated = Trace("contaminated", "contaminated");
  contaminated["messages"][0]["content"] = std::string("Solve: ") + kEvalProblem + ". Then add 5-5.";
  add(contaminated, "contaminated");                                                            // line 14
  json dup = Trace("dup", "ok");  // same text as "ok" up to case and punctuation
  dup["reasoning"] = "ADDING two and three gives five -- checked again for case ok!";
  dup["sample_index"] = 1;
  add(dup, "duplicate");                                                                        // line 15
  lines.push_back("this is not json");                                                           // line 16
  lines.push_back("");                                                                           // line 17 (blank)
  lines.push_back(R"({"prompt_id": "bad", "sample_index": "zero"})");                            // line 18
  lines.push_back("{\"prompt_id\": \"bad\xff\"}");                                               // line 19
  lines.push_back("[1, 2]");                                                                     // line 20
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  WriteFile(path, text);
  WriteFile(eval_path, json({{"problem", kEvalProblem}}).dump() + "\n\n" +
                           json({{"prompt", "Compute the area of a regular hexagon whose side has length two units "
                                            "exactly and report it"}}).dump() + "\n");
  return expected;
}

// Property: on the handcrafted file each trace gets its expected primary reason, counts are exact, malformed lines
// are reported with their line numbers, and the two outputs hold every well-formed trace exactly once, in order,
// as the input object plus a "verify" object.
TEST(RunVerify, HandcraftedFileEveryReason) {
  TempDir dir;
  const std::string input = dir.File("traces.jsonl");
  const auto expected = WriteHandcrafted(input, dir.File("eval.jsonl"));
  auto eval = LoadEvalSet({dir.File("eval.jsonl")});
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->sources.size(), 2u);
  const VerifyPaths paths{input, dir.File("accepted.jsonl"), dir.File("rejected.jsonl"), dir.File("report.json")};
  auto counts = RunVerify(paths, TestOptions(), std::move(*eval));
  ASSERT_TRUE(counts.ok()) << counts.status();

  EXPECT_EQ(counts->lines, 20);
  EXPECT_EQ(counts->traces, 15);
  EXPECT_EQ(counts->accepted, 2);
  EXPECT_EQ(counts->rejected, 13);
  EXPECT_EQ(counts->malformed, 4);
  std::vector<int64_t> malformed_lines;
  for (const auto& [line, error] : counts->malformed_lines) {
    malformed_lines.push_back(line);
    EXPECT_NE(error.find(input + ":" + std::to_string(line) + ":"), std::string::npos) << error;
  }
  EXPECT_EQ(malformed_lines, (std::vector<int64_t>{16, 18, 19, 20}));
  EXPECT_NE(counts->malformed_lines[1].second.find("'sample_index'"), std::string::npos);
  EXPECT_NE(counts->malformed_lines[2].second.find("invalid UTF-8 at byte"), std::string::npos);

  // Every reason is somebody's primary reason exactly once.
  std::map<std::string, int64_t> want_first;
  for (const auto& [id, reason] : expected) {
    if (!reason.empty()) ++want_first[reason];
  }
  EXPECT_EQ(counts->first_reasons, want_first);
  for (const std::string& code : AllRejectCodes()) {
    if (code != kNoGroundTruth) {
      EXPECT_EQ(want_first.count(code), 1u) << "handcrafted file lacks " << code;
    }
  }

  const auto accepted = ReadJsonl(paths.accepted);
  const auto rejected = ReadJsonl(paths.rejected);
  ASSERT_EQ(accepted.size(), 2u);
  ASSERT_EQ(rejected.size(), 13u);
  EXPECT_EQ(accepted[0]["prompt_id"], "ok");
  EXPECT_EQ(accepted[0]["verify"]["graded"], true);
  EXPECT_EQ(accepted[0]["verify"]["correct"], true);
  EXPECT_EQ(accepted[0]["verify"]["extracted_answer"], "5");
  EXPECT_EQ(accepted[0]["verify"]["line"], 1);
  EXPECT_EQ(accepted[1]["prompt_id"], "ungraded");
  EXPECT_EQ(accepted[1]["verify"]["graded"], false);
  EXPECT_EQ(accepted[1]["verify"]["note"], "no ground truth: not graded");
  EXPECT_EQ(counts->ungraded, 1 + 2);  // the ungraded accept, plus unclosed and empty_answer (empty answers)
  int64_t previous_line = 0;
  for (const json& r : rejected) {
    const std::string id = r["prompt_id"];
    ASSERT_TRUE(expected.count(id)) << id;
    EXPECT_EQ(r["verify"]["accepted"], false);
    ASSERT_FALSE(r["verify"]["reasons"].empty());
    EXPECT_EQ(r["verify"]["reasons"][0]["code"], expected.at(id)) << r.dump();
    for (const json& reason : r["verify"]["reasons"]) EXPECT_FALSE(reason["detail"].get<std::string>().empty());
    EXPECT_GT(r["verify"]["line"].get<int64_t>(), previous_line);  // input order kept
    previous_line = r["verify"]["line"];
    // The input object is carried through unchanged.
    json without = r;
    without.erase("verify");
    EXPECT_TRUE(without.contains("reasoning") && without.contains("messages"));
  }
  // Specific details the reports rely on.
  for (const json& r : rejected) {
    const std::string detail = r["verify"]["reasons"][0]["detail"];
    if (r["prompt_id"] == "wrong") {
      EXPECT_EQ(detail, "answer \"6\" (boxed) does not match ground truth \"5\"");
    }
    if (r["prompt_id"] == "dup") {
      EXPECT_NE(detail.find("(line 1)"), std::string::npos) << detail;
    }
    if (r["prompt_id"] == "contaminated") {
      EXPECT_NE(detail.find("eval.jsonl:1"), std::string::npos) << detail;
    }
    if (r["prompt_id"] == "no_think") {
      EXPECT_EQ(r["verify"]["reasons"].size(), 1u) << r.dump();  // not also "too short"
    }
  }

  // The report holds the same counts; no temp files are left behind.
  std::ifstream report_in(paths.report);
  const json report = json::parse(report_in);
  EXPECT_EQ(report["accepted"], 2);
  EXPECT_EQ(report["rejected"], 13);
  EXPECT_EQ(report["malformed"], 4);
  EXPECT_EQ(report["first_reasons"]["duplicate"], 1);
  EXPECT_EQ(report["malformed_lines"][0]["line"], 16);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
  const std::string table = FormatCountsTable(*counts);
  EXPECT_NE(table.find("wrong_answer"), std::string::npos) << table;
  EXPECT_NE(table.find("15 traces: 2 accepted, 13 rejected; 4 malformed"), std::string::npos) << table;
}

TraceRecord Record(const std::string& id, const std::string& tag) {
  auto t = TraceFromJson(Trace(id, tag), "test");
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

// Property: de-dup keeps the first accepted copy; normalisation ignores case, punctuation and spacing; the same
// response to a different prompt is not a duplicate; with dedup off both copies pass.
TEST(Verifier, DedupKeepsFirst) {
  Verifier verifier(TestOptions());
  TraceRecord a = Record("a", "one");
  TraceRecord b = a;
  b.sample_index = 1;
  b.reasoning = "  adding TWO and three,   gives five; checked again for case one!";
  TraceRecord other_prompt = a;
  other_prompt.messages[0]["content"] = "What is 3+2?";
  EXPECT_EQ(TraceDedupKey(a), TraceDedupKey(b));
  EXPECT_NE(TraceDedupKey(a), TraceDedupKey(other_prompt));
  EXPECT_TRUE(verifier.Verify(a, 3).accepted());
  TraceVerdict second = verifier.Verify(b, 9);
  ASSERT_EQ(second.reasons.size(), 1u);
  EXPECT_EQ(second.reasons[0].code, kDuplicate);
  EXPECT_NE(second.reasons[0].detail.find("line 3"), std::string::npos);
  EXPECT_TRUE(verifier.Verify(other_prompt).accepted());

  // A rejected first copy does not block a later one that passes.
  VerifyOptions options = TestOptions();
  Verifier fresh(options);
  TraceRecord wrong = a;
  wrong.ground_truth = "6";
  EXPECT_FALSE(fresh.Verify(wrong).accepted());
  EXPECT_TRUE(fresh.Verify(a).accepted());

  options.dedup = false;
  Verifier no_dedup(options);
  EXPECT_TRUE(no_dedup.Verify(a).accepted());
  EXPECT_TRUE(no_dedup.Verify(b).accepted());
}

// Property: decontamination flags a prompt sharing a 13-gram with an eval problem (or containing a whole short
// eval problem), and not one sharing only 12 words.
TEST(Decontamination, ThirteenGramOverlap) {
  EvalSet eval;
  AddEvalText(&eval, kEvalProblem, "aime.jsonl:4");
  AddEvalText(&eval, "Find the area of triangle ABC", "short.jsonl:1");
  VerifyOptions options = TestOptions();
  TraceRecord t = Record("c", "c");
  // 13 consecutive words of the eval problem, differently cased and punctuated.
  t.messages[0]["content"] = "Question: let X be the smallest positive integer, such that x squared leaves remainder "
                             "one... and so on";
  TraceVerdict hit = VerifyTrace(t, options, &eval);
  ASSERT_TRUE(hit.HasReason(kContaminated));
  EXPECT_NE(hit.reasons[0].detail.find("13-gram"), std::string::npos) << hit.reasons[0].detail;
  EXPECT_NE(hit.reasons[0].detail.find("aime.jsonl:4"), std::string::npos);
  // Only 12 words of it.
  t.messages[0]["content"] = "Question: let x be the smallest positive integer such that x squared leaves";
  EXPECT_FALSE(VerifyTrace(t, options, &eval).HasReason(kContaminated));
  // A whole short eval problem inside the prompt.
  t.messages[0]["content"] = "Please find the area of triangle ABC given the sides.";
  TraceVerdict whole = VerifyTrace(t, options, &eval);
  ASSERT_TRUE(whole.HasReason(kContaminated));
  EXPECT_NE(whole.reasons[0].detail.find("whole eval problem"), std::string::npos) << whole.reasons[0].detail;
  // No eval set: nothing to check.
  EXPECT_TRUE(VerifyTrace(t, options, nullptr).accepted());
}

// Property: eval files must be JSONL objects with "problem" or "prompt"; errors name file:line.
TEST(Decontamination, LoadEvalSetErrors) {
  TempDir dir;
  WriteFile(dir.File("e.jsonl"), "{\"problem\": \"a b c d e f g\"}\n{\"question\": \"x\"}\n");
  auto missing = LoadEvalSet({dir.File("e.jsonl")});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("e.jsonl:2: missing field 'problem' or 'prompt'"), std::string::npos)
      << missing.status();
  WriteFile(dir.File("f.jsonl"), "{\"prompt\": 3}\n");
  auto wrong_type = LoadEvalSet({dir.File("f.jsonl")});
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.status().message().find("f.jsonl:1: field 'prompt'"), std::string::npos);
  WriteFile(dir.File("g.jsonl"),
            "{\"prompt\": [{\"role\": \"user\", \"content\": \"one two three four five six\"}]}\n");
  auto messages = LoadEvalSet({dir.File("g.jsonl")});
  ASSERT_TRUE(messages.ok()) << messages.status();
  EXPECT_EQ(messages->sources, (std::vector<std::string>{dir.File("g.jsonl") + ":1"}));
  EXPECT_EQ(LoadEvalSet({dir.File("nope.jsonl")}).status().code(), absl::StatusCode::kNotFound);
}

// Property: grading notes — no ground truth is accepted but not graded (rejected only with
// require_ground_truth); a numeric answer without \boxed is graded by its last number; a missing final answer
// is a wrong answer with a clear detail; grade=false skips grading.
TEST(VerifyTrace, Grading) {
  VerifyOptions options = TestOptions();
  TraceRecord t = Record("g", "g");
  t.ground_truth.reset();
  TraceVerdict ungraded = VerifyTrace(t, options);
  EXPECT_TRUE(ungraded.accepted());
  EXPECT_FALSE(ungraded.graded);
  EXPECT_EQ(ungraded.note, "no ground truth: not graded");
  options.require_ground_truth = true;
  TraceVerdict required = VerifyTrace(t, options);
  ASSERT_EQ(required.reasons.size(), 1u);
  EXPECT_EQ(required.reasons[0].code, kNoGroundTruth);
  options.require_ground_truth = false;

  t.ground_truth = "50%";
  t.answer = "So the share is 0.5 of the total.";
  TraceVerdict number = VerifyTrace(t, options);
  EXPECT_TRUE(number.accepted()) << (number.reasons.empty() ? "" : number.reasons[0].detail);
  EXPECT_EQ(number.answer_source, "last_number");
  t.answer = "I cannot tell.";
  TraceVerdict none = VerifyTrace(t, options);
  ASSERT_TRUE(none.HasReason(kWrongAnswer));
  EXPECT_NE(none.reasons[0].detail.find("no final answer"), std::string::npos) << none.reasons[0].detail;
  options.grade = false;
  EXPECT_TRUE(VerifyTrace(t, options).accepted());
}

// Property: a response whose think tags stayed inline in the answer (reasoning empty) is split and judged on its
// parts; ignore drops a code; code_task (option or extra.code_task) lets code blocks through.
TEST(VerifyTrace, InlineTagsIgnoreAndCodeTask) {
  VerifyOptions options = TestOptions();
  TraceRecord t = Record("i", "i");
  t.reasoning = "";
  t.answer = "<think>\nAdding two and three gives five, clearly.\n</think>\n\nThe answer is \\boxed{5}.";
  TraceVerdict inline_tags = VerifyTrace(t, options);
  EXPECT_TRUE(inline_tags.accepted()) << inline_tags.reasons[0].code;
  EXPECT_EQ(inline_tags.extracted_answer, "5");

  TraceRecord code = Record("k", "k");
  code.answer = "```\nprint(5)\n```\n\\boxed{5}";
  EXPECT_TRUE(VerifyTrace(code, options).HasReason("code_block"));
  code.extra["code_task"] = true;
  EXPECT_TRUE(VerifyTrace(code, options).accepted());
  code.extra.erase("code_task");
  options.code_task = CodeTaskMode::kAlways;
  EXPECT_TRUE(VerifyTrace(code, options).accepted());
  options.code_task = CodeTaskMode::kAuto;
  options.ignore = {"code_block"};
  EXPECT_TRUE(VerifyTrace(code, options).accepted());
}

// Property: RunVerify fails cleanly — a missing input is NotFound and leaves no output files; an output path equal
// to the input is refused before anything is written.
TEST(RunVerify, Errors) {
  TempDir dir;
  VerifyPaths paths{dir.File("missing.jsonl"), dir.File("a.jsonl"), dir.File("r.jsonl"), dir.File("rep.json")};
  auto missing = RunVerify(paths, TestOptions());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs::is_empty(dir.path()));
  WriteFile(dir.File("in.jsonl"), Trace("x", "x").dump() + "\n");
  paths = {dir.File("in.jsonl"), dir.File("in.jsonl"), dir.File("r.jsonl"), ""};
  EXPECT_EQ(RunVerify(paths, TestOptions()).status().code(), absl::StatusCode::kInvalidArgument);
  std::ifstream in(dir.File("in.jsonl"));
  EXPECT_EQ(json::parse(in)["prompt_id"], "x");
}

// Property: an input without a final newline and with CRLF line ends is read completely.
TEST(RunVerify, LastLineWithoutNewlineAndCrlf) {
  TempDir dir;
  WriteFile(dir.File("in.jsonl"), Trace("a", "a").dump() + "\r\n" + Trace("b", "b").dump());
  VerifyPaths paths{dir.File("in.jsonl"), dir.File("acc.jsonl"), dir.File("rej.jsonl"), ""};
  auto counts = RunVerify(paths, TestOptions());
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->accepted, 2);
  EXPECT_EQ(counts->malformed, 0);
  EXPECT_EQ(ReadJsonl(paths.accepted).size(), 2u);
  EXPECT_TRUE(ReadJsonl(paths.rejected).empty());
  EXPECT_FALSE(fs::exists(dir.File("rep.json")));
}

}  // namespace
}  // namespace distill::data
