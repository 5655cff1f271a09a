// Grading of samples and the eval summary metrics (rules in metrics.h).
#include "tools/eval/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "data/answer_grader.h"

namespace distill::eval {
namespace {

using nlohmann::json;

constexpr const char* kOpenTag = "<think>";
constexpr const char* kCloseTag = "</think>";
constexpr const char* kNoDifficulty = "(none)";

std::string Trimmed(const std::string& text) { return std::string(absl::StripAsciiWhitespace(text)); }

bool HasThinkTag(const std::string& text) {
  return text.find(kOpenTag) != std::string::npos || text.find(kCloseTag) != std::string::npos;
}

double Share(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// ---- JSON reading helpers (errors: "<where>: \"key\" …expected…").

absl::StatusOr<double> NumberAt(const json& j, const std::string& key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) return absl::InvalidArgumentError(where + ": missing \"" + key + "\" (expected a number)");
  if (!it->is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", key, "\" is ", it->type_name(), " (expected a number)"));
  }
  return it->get<double>();
}

absl::StatusOr<double> ShareAt(const json& j, const std::string& key, const std::string& where) {
  absl::StatusOr<double> v = NumberAt(j, key, where);
  if (v.ok() && !(*v >= 0.0 && *v <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"", key, "\" is ", *v, " (expected a share in [0, 1])"));
  }
  return v;
}

absl::StatusOr<int64_t> CountAt(const json& j, const std::string& key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) {
    return absl::InvalidArgumentError(where + ": missing \"" + key + "\" (expected a non-negative integer)");
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", key, "\" is ", it->dump(), " (expected a non-negative integer)"));
  }
  return it->get<int64_t>();
}

absl::StatusOr<std::optional<double>> OptionalNumberAt(const json& j, const std::string& key,
                                                       const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<double>();
  absl::StatusOr<double> v = NumberAt(j, key, where);
  if (!v.ok()) return v.status();
  return std::optional<double>(*v);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Grading.

GradedSample GradeSample(const BenchmarkItem& item, const SampleOutput& output, int item_index, int sample_index,
                         const data::FilterOptions& options) {
  GradedSample g;
  g.item_index = item_index;
  g.sample_index = sample_index;
  g.finish_reason = output.finish_reason;
  g.reasoning_tokens = output.reasoning_tokens;
  g.answer_tokens = output.answer_tokens;
  g.truncated = output.finish_reason == "length";
  // A "separated" endpoint that returned nothing as reasoning but inline tags in the content is graded inline.
  const bool separated =
      output.separated && !(Trimmed(output.reasoning).empty() && output.content.find(kCloseTag) != std::string::npos);
  g.separated = separated;
  std::string whole;  // everything generated, for extraction fallback, loops and language mixing
  if (separated) {
    g.reasoning = Trimmed(output.reasoning);
    g.answer_text = Trimmed(output.content);
    g.think_ok = !g.reasoning.empty() && !HasThinkTag(g.answer_text) && !(g.answer_text.empty() && g.truncated);
    whole = output.reasoning + "\n\n" + output.content;
  } else {
    data::ThinkSplit split = data::SplitThinkBlock(output.content);
    g.reasoning = std::string(split.reasoning);
    g.answer_text = std::string(split.answer);
    g.think_ok = split.verdict.accepted();
    if (!g.think_ok) g.raw = output.content;
    // The tags themselves are not text: "think" would count as Latin letters when checking a Chinese trace.
    whole = absl::StrReplaceAll(output.content, {{kOpenTag, " "}, {kCloseTag, " "}});
  }
  g.extracted = data::ExtractFinalAnswer(g.answer_text.empty() ? std::string_view(whole) : g.answer_text).text;
  g.correct = !g.extracted.empty() && data::AnswersEquivalent(g.extracted, item.answer);
  g.loop = !data::CheckRepetition(whole, options).accepted();
  g.language_mix = !data::CheckLanguageMixing(whole, item.problem, options).accepted();
  return g;
}

std::optional<MajorityVote> MajorityAnswer(const std::vector<const GradedSample*>& samples) {
  struct Group {
    std::string answer;
    std::string key;  // NormalizeAnswer(answer)
    int first_sample = 0;
    int votes = 0;
  };
  std::vector<Group> groups;  // in order of first vote
  for (const GradedSample* s : samples) {
    if (s->extracted.empty()) continue;
    std::string key = data::NormalizeAnswer(s->extracted);
    Group* joined = nullptr;
    for (Group& g : groups) {
      if (g.key == key || data::AnswersEquivalent(s->extracted, g.answer) ||
          data::AnswersEquivalent(g.answer, s->extracted)) {
        joined = &g;
        break;
      }
    }
    if (joined == nullptr) {
      groups.push_back(Group{s->extracted, std::move(key), s->sample_index, 0});
      joined = &groups.back();
    }
    ++joined->votes;
  }
  if (groups.empty()) return std::nullopt;
  const Group* best = &groups.front();
  for (const Group& g : groups) {
    if (g.votes > best->votes) best = &g;  // strictly more: a tie keeps the earlier group
  }
  return MajorityVote{best->answer, best->first_sample, best->votes};
}

double PassAtK(int n, int c, int k) {
  if (n - c < k) return 1.0;
  double all_wrong = 1.0;  // C(n-c, k) / C(n, k) = Π_{i=n-c+1..n} (1 - k/i)
  for (int i = n - c + 1; i <= n; ++i) all_wrong *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - all_wrong;
}

bool NaturalLess::operator()(const std::string& a, const std::string& b) const {
  size_t i = 0, j = 0;
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ei = i, ej = j;
      while (ei < a.size() && digit(a[ei])) ++ei;
      while (ej < b.size() && digit(b[ej])) ++ej;
      std::string_view da(a.data() + i, ei - i), db(b.data() + j, ej - j);
      while (da.size() > 1 && da.front() == '0') da.remove_prefix(1);
      while (db.size() > 1 && db.front() == '0') db.remove_prefix(1);
      if (da.size() != db.size()) return da.size() < db.size();
      if (da != db) return da < db;
      i = ei;
      j = ej;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;  // equal under the natural order ("01" vs "1"): fall back to bytes so the order is strict
}

// ---------------------------------------------------------------------------------------------------------------
// Summary.

absl::StatusOr<EvalMetrics> Summarize(const std::vector<BenchmarkItem>& items,
                                      const std::vector<GradedSample>& graded, const std::vector<int>& ks) {
  if (items.empty()) return absl::InvalidArgumentError("no problems to summarize (expected at least one)");
  for (int k : ks) {
    if (k < 1) return absl::InvalidArgumentError(absl::StrCat("pass@k with k = ", k, " (expected k >= 1)"));
  }
  std::vector<std::vector<const GradedSample*>> by_item(items.size());
  for (size_t i = 0; i < graded.size(); ++i) {
    const GradedSample& g = graded[i];
    if (g.item_index < 0 || static_cast<size_t>(g.item_index) >= items.size()) {
      return absl::InvalidArgumentError(absl::StrCat("graded sample ", i, " has item index ", g.item_index,
                                                     " (expected 0 … ", items.size() - 1, ")"));
    }
    by_item[g.item_index].push_back(&g);
  }
  const size_t n = by_item.front().size();
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<const GradedSample*>& samples = by_item[i];
    if (samples.size() != n || n == 0) {
      return absl::InvalidArgumentError(absl::StrCat("problem \"", items[i].id, "\" has ", samples.size(),
                                                     " samples (expected the same n >= 1 for every problem; \"",
                                                     items.front().id, "\" has ", n, ")"));
    }
    std::stable_sort(samples.begin(), samples.end(),
                     [](const GradedSample* a, const GradedSample* b) { return a->sample_index < b->sample_index; });
    for (size_t s = 0; s < n; ++s) {
      if (samples[s]->sample_index != static_cast<int>(s)) {
        return absl::InvalidArgumentError(absl::StrCat("problem \"", items[i].id, "\": sample indices are not 0 … ",
                                                       n - 1, " each once (found ", samples[s]->sample_index,
                                                       " at position ", s, ")"));
      }
    }
  }

  EvalMetrics m;
  m.problems = static_cast<int64_t>(items.size());
  m.samples = static_cast<int64_t>(graded.size());
  m.samples_per_problem = static_cast<int>(n);
  std::vector<int> valid_ks;
  for (int k : ks) {
    if (static_cast<size_t>(k) <= n) {
      valid_ks.push_back(k);
      m.pass_at_k[k] = 0;
    }
  }
  const bool any_difficulty =
      std::any_of(items.begin(), items.end(), [](const BenchmarkItem& it) { return !it.difficulty.empty(); });
  int64_t think_ok = 0, truncated = 0, loops = 0, mixed = 0;
  int64_t reasoning_known = 0, answer_known = 0;
  double reasoning_sum = 0, answer_sum = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    int c = 0;
    for (const GradedSample* s : by_item[i]) {
      c += s->correct ? 1 : 0;
      think_ok += s->think_ok ? 1 : 0;
      truncated += s->truncated ? 1 : 0;
      loops += s->loop ? 1 : 0;
      mixed += s->language_mix ? 1 : 0;
      if (s->reasoning_tokens >= 0) {
        ++reasoning_known;
        reasoning_sum += static_cast<double>(s->reasoning_tokens);
      }
      if (s->answer_tokens >= 0) {
        ++answer_known;
        answer_sum += static_cast<double>(s->answer_tokens);
      }
    }
    const double pass1 = static_cast<double>(c) / static_cast<double>(n);
    std::optional<MajorityVote> vote = MajorityAnswer(by_item[i]);
    const bool maj = vote.has_value() && data::AnswersEquivalent(vote->answer, items[i].answer);
    m.pass_at_1 += pass1;
    m.maj_at_n += maj ? 1.0 : 0.0;
    for (int k : valid_ks) m.pass_at_k[k] += PassAtK(static_cast<int>(n), c, k);
    if (any_difficulty) {
      DifficultyMetrics& d = m.by_difficulty[items[i].difficulty.empty() ? kNoDifficulty : items[i].difficulty];
      ++d.problems;
      d.pass_at_1 += pass1;
      d.maj_at_n += maj ? 1.0 : 0.0;
    }
  }
  const double problems = static_cast<double>(items.size());
  m.pass_at_1 /= problems;
  m.maj_at_n /= problems;
  for (auto& [k, v] : m.pass_at_k) v /= problems;
  for (auto& [name, d] : m.by_difficulty) {
    d.pass_at_1 /= static_cast<double>(d.problems);
    d.maj_at_n /= static_cast<double>(d.problems);
  }
  m.think_format_rate = Share(think_ok, m.samples);
  m.truncation_rate = Share(truncated, m.samples);
  m.loop_rate = Share(loops, m.samples);
  m.language_mix_rate = Share(mixed, m.samples);
  if (reasoning_known > 0) m.mean_reasoning_tokens = reasoning_sum / static_cast<double>(reasoning_known);
  if (answer_known > 0) m.mean_answer_tokens = answer_sum / static_cast<double>(answer_known);
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON.

json MetricsToJson(const EvalMetrics& m) {
  json j = json::object();
  j["problems"] = m.problems;
  j["samples"] = m.samples;
  j["samples_per_problem"] = m.samples_per_problem;
  j["pass@1"] = m.pass_at_1;
  j["maj@n"] = m.maj_at_n;
  json pass_k = json::object();
  for (const auto& [k, v] : m.pass_at_k) pass_k[std::to_string(k)] = v;
  j["pass@k"] = std::move(pass_k);
  j["think_format_rate"] = m.think_format_rate;
  j["truncation_rate"] = m.truncation_rate;
  j["loop_rate"] = m.loop_rate;
  j["language_mix_rate"] = m.language_mix_rate;
  j["mean_reasoning_tokens"] = m.mean_reasoning_tokens ? json(*m.mean_reasoning_tokens) : json(nullptr);
  j["mean_answer_tokens"] = m.mean_answer_tokens ? json(*m.mean_answer_tokens) : json(nullptr);
  json by = json::object();
  for (const auto& [name, d] : m.by_difficulty) {
    by[name] = {{"problems", d.problems}, {"pass@1", d.pass_at_1}, {"maj@n", d.maj_at_n}};
  }
  j["by_difficulty"] = std::move(by);
  return j;
}

absl::StatusOr<EvalMetrics> MetricsFromJson(const json& j, const std::string& where) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is ", j.type_name(), " (expected an object)"));
  }
  EvalMetrics m;
  absl::Status status;
  auto count = [&](const char* key, int64_t* out) {
    if (!status.ok()) return;
    absl::StatusOr<int64_t> v = CountAt(j, key, where);
    if (v.ok()) {
      *out = *v;
    } else {
      status = v.status();
    }
  };
  auto share = [&](const json& obj, const std::string& key, const std::string& at, double* out) {
    if (!status.ok()) return;
    absl::StatusOr<double> v = ShareAt(obj, key, at);
    if (v.ok()) {
      *out = *v;
    } else {
      status = v.status();
    }
  };
  auto optional_number = [&](const char* key, std::optional<double>* out) {
    if (!status.ok()) return;
    absl::StatusOr<std::optional<double>> v = OptionalNumberAt(j, key, where);
    if (v.ok()) {
      *out = *v;
    } else {
      status = v.status();
    }
  };
  int64_t n = 0;
  count("problems", &m.problems);
  count("samples", &m.samples);
  count("samples_per_problem", &n);
  m.samples_per_problem = static_cast<int>(n);
  share(j, "pass@1", where, &m.pass_at_1);
  share(j, "maj@n", where, &m.maj_at_n);
  share(j, "think_format_rate", where, &m.think_format_rate);
  share(j, "truncation_rate", where, &m.truncation_rate);
  share(j, "loop_rate", where, &m.loop_rate);
  share(j, "language_mix_rate", where, &m.language_mix_rate);
  optional_number("mean_reasoning_tokens", &m.mean_reasoning_tokens);
  optional_number("mean_answer_tokens", &m.mean_answer_tokens);
  if (!status.ok()) return status;
  auto pass_k = j.find("pass@k");
  if (pass_k != j.end()) {
    if (!pass_k->is_object()) {
      return absl::InvalidArgumentError(where + ": \"pass@k\" is " + pass_k->type_name() + " (expected an object)");
    }
    for (auto it = pass_k->begin(); it != pass_k->end(); ++it) {
      int k = 0;
      if (!absl::SimpleAtoi(it.key(), &k) || k < 1) {
        return absl::InvalidArgumentError(where + ": \"pass@k\" has key \"" + it.key() +
                                          "\" (expected a positive integer k)");
      }
      share(*pass_k, it.key(), where + ": \"pass@k\"", &m.pass_at_k[k]);
    }
  }
  auto by = j.find("by_difficulty");
  if (by != j.end() && !by->is_null()) {
    if (!by->is_object()) {
      return absl::InvalidArgumentError(where + ": \"by_difficulty\" is " + by->type_name() +
                                        " (expected an object)");
    }
    for (auto it = by->begin(); it != by->end(); ++it) {
      const std::string at = where + ": \"by_difficulty\": \"" + it.key() + "\"";
      if (!it->is_object()) {
        return absl::InvalidArgumentError(at + " is " + it->type_name() + " (expected an object)");
      }
      DifficultyMetrics& d = m.by_difficulty[it.key()];
      absl::StatusOr<int64_t> problems = CountAt(*it, "problems", at);
      if (!problems.ok()) return problems.status();
      d.problems = *problems;
      share(*it, "pass@1", at, &d.pass_at_1);
      share(*it, "maj@n", at, &d.maj_at_n);
    }
  }
  if (!status.ok()) return status;
  return m;
}

}  // namespace distill::eval
