// `distill report`'s HTML side: the document, its sections, the comparison table and the traces. Reading the run
// folders is report_read.cc.
#include "tools/eval/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "data/atomic_file.h"
#include "data/output_guard.h"
#include "tools/eval/metrics.h"
#include "tools/eval/report_svg.h"

namespace distill::eval {
namespace {

namespace fs = std::filesystem;

// Series colours (matplotlib's first ones, readable on white).
constexpr const char* kBlue = "#1f77b4";
constexpr const char* kOrange = "#ff7f0e";
constexpr const char* kGreen = "#2ca02c";
constexpr const char* kRed = "#d62728";
constexpr const char* kPurple = "#9467bd";

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The first `max` code points of `s`, and how many were left out.
std::pair<std::string, size_t> Cut(const std::string& s, size_t max) {
  size_t points = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (points == max) return {s.substr(0, i), CodePoints(std::string_view(s).substr(i))};
    ++points;
  }
  return {s, 0};
}

std::string Percent(const std::optional<double>& v) {
  return v ? absl::StrFormat("%.1f%%", *v * 100.0) : std::string("—");
}
std::string Fixed(const std::optional<double>& v, int decimals) {
  return v ? absl::StrFormat("%.*f", decimals, *v) : std::string("—");
}
std::string Count(const std::optional<int64_t>& v) { return v ? absl::StrCat(*v) : std::string("—"); }

std::string Megabytes(double mb) {
  return mb >= 1024 ? absl::StrFormat("%.2f GB", mb / 1024.0) : absl::StrFormat("%.0f MB", mb);
}

std::string Duration(double seconds) {
  if (seconds < 120) return absl::StrFormat("%.1f s", seconds);
  const int64_t s = std::llround(seconds);
  if (s < 3600) return absl::StrFormat("%dm %02ds", s / 60, s % 60);
  return absl::StrFormat("%dh %02dm", s / 3600, (s % 3600) / 60);
}

// An id-safe form of a run name: [a-z0-9-] only.
std::string Slug(const std::string& name) {
  std::string out;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "run" : out;
}

std::string NowUtc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

// ---------------------------------------------------------------------------------------------------------------
// HTML pieces

constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
  color: #1d1d1f; background: #fafafa; line-height: 1.4; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
header.report { border-bottom: 2px solid #ddd; margin-bottom: 16px; }
h1 { font-size: 26px; margin: 12px 0 4px; }
h2 { font-size: 20px; margin: 28px 0 8px; border-bottom: 1px solid #e4e4e4; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.meta { color: #555; font-size: 13px; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
pre { white-space: pre-wrap; word-break: break-word; background: #f3f3f3; padding: 8px; border-radius: 4px;
  margin: 4px 0; max-height: 480px; overflow: auto; }
ul.inputs { font-size: 13px; margin: 4px 0 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; }
svg.chart { width: 100%; height: auto; background: #fff; border: 1px solid #e2e2e2; border-radius: 4px; }
table { border-collapse: collapse; font-size: 13px; background: #fff; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #f0f0f0; }
tbody th, table.summary th { text-align: left; font-weight: 500; }
thead th { text-align: center; }
td.best { font-weight: 700; background: #eaf6ea; }
tr.group th { background: #e8e8ef; text-align: left; font-weight: 600; }
.backend { font-weight: 400; color: #666; font-size: 12px; }
.scroll { overflow-x: auto; }
article.trace { background: #fff; border: 1px solid #ddd; border-left: 5px solid #bbb; border-radius: 4px;
  padding: 8px 12px; margin: 10px 0; }
article.trace.correct { border-left-color: #2ca02c; }
article.trace.incorrect { border-left-color: #d62728; }
.verdict { font-weight: 700; }
.verdict.ok { color: #1a7f1a; }
.verdict.bad { color: #c0201f; }
dl.trace { display: grid; grid-template-columns: 90px 1fr; gap: 2px 10px; margin: 6px 0; }
dl.trace dt { color: #555; font-size: 13px; }
dl.trace dd { margin: 0; }
.flags { font-size: 12px; color: #555; }
.flag { display: inline-block; background: #fbe9e7; color: #a33; border-radius: 3px; padding: 0 5px; margin-left: 4px; }
details > summary { cursor: pointer; color: #235; font-size: 13px; }
.note { color: #666; font-size: 13px; font-style: italic; }
)css";

void AppendSummaryRow(std::string& out, const std::string& label, const std::string& value) {
  out += absl::StrCat("<tr><th>", HtmlEscape(label), "</th><td>", HtmlEscape(value), "</td></tr>\n");
}

std::string TrainSection(const ReportTrainRun& run, const std::string& id) {
  const std::string name = HtmlEscape(run.name);
  std::string out = absl::StrCat("<section class=\"train-run\" id=\"", id, "\" data-run=\"", name,
                                 "\">\n<h2>Train run: ", name, "</h2>\n<p class=\"meta\">", HtmlEscape(run.dir));
  if (!run.config_file.empty()) out += absl::StrCat(" · config: <code>", HtmlEscape(run.config_file), "</code>");
  out += "</p>\n";

  // Summary.
  std::optional<double> final_loss, final_val, peak_mb, best_val;
  double tps_sum = 0, tokens_sum = 0;
  int64_t tps_n = 0;
  bool any_tokens = false;
  for (const ReportTrainPoint& p : run.points) {
    if (p.loss && std::isfinite(*p.loss)) final_loss = p.loss;
    if (p.val_loss && std::isfinite(*p.val_loss)) {
      final_val = p.val_loss;
      best_val = best_val ? std::min(*best_val, *p.val_loss) : *p.val_loss;
    }
    if (p.memory_mb) peak_mb = peak_mb ? std::max(*peak_mb, *p.memory_mb) : *p.memory_mb;
    if (p.tokens_per_s && std::isfinite(*p.tokens_per_s)) tps_sum += *p.tokens_per_s, ++tps_n;
    if (p.tokens) tokens_sum += *p.tokens, any_tokens = true;
  }
  out += "<table class=\"summary\">\n";
  AppendSummaryRow(out, "steps",
                   run.points.empty() ? "0"
                                      : absl::StrCat(run.points.size(), " logged (last step ",
                                                     run.points.back().step, ")"));
  AppendSummaryRow(out, "final loss", Fixed(final_loss, 4));
  AppendSummaryRow(out, "final val loss", Fixed(final_val, 4));
  AppendSummaryRow(out, "best val loss", Fixed(best_val, 4));
  AppendSummaryRow(out, "mean tokens/s", tps_n ? absl::StrFormat("%.1f", tps_sum / static_cast<double>(tps_n)) : "—");
  AppendSummaryRow(out, "tokens seen", any_tokens ? absl::StrFormat("%.0f", tokens_sum) : "—");
  AppendSummaryRow(out, "peak memory", peak_mb ? Megabytes(*peak_mb) : "—");
  out += "</table>\n";

  // Charts.
  svg::Series loss{"train loss", kBlue, {}, false}, val{"val loss", kOrange, {}, true};
  svg::Series lr{"learning rate", kPurple, {}, false}, tps{"tokens/s", kGreen, {}, false};
  for (const ReportTrainPoint& p : run.points) {
    const double x = static_cast<double>(p.step);
    if (p.loss) loss.points.emplace_back(x, *p.loss);
    if (p.val_loss) val.points.emplace_back(x, *p.val_loss);
    if (p.lr) lr.points.emplace_back(x, *p.lr);
    if (p.tokens_per_s) tps.points.emplace_back(x, *p.tokens_per_s);
  }
  out += "<div class=\"charts\">\n";
  out += svg::LineChart({"loss-" + run.name, "Loss", "step", "loss"}, {loss, val});
  out += svg::LineChart({"lr-" + run.name, "Learning rate", "step", "lr"}, {lr});
  out += svg::LineChart({"throughput-" + run.name, "Throughput", "step", "tokens/s"}, {tps});
  out += "</div>\n</section>\n";
  return out;
}

// One row of the comparison table. `better`: +1 higher is better, -1 lower is better, 0 no highlight.
struct Row {
  std::string key, label;
  std::vector<std::optional<double>> values;
  std::vector<std::string> cells;
  int better = 0;
};

std::string TableRow(const Row& row) {
  std::string out = absl::StrCat("<tr data-metric=\"", HtmlEscape(row.key), "\"><th>", HtmlEscape(row.label), "</th>");
  std::optional<double> best;
  int present = 0;
  bool differ = false;
  for (const auto& v : row.values) {
    if (!v) continue;
    if (present++ && best && *best != *v) differ = true;
    if (!best || (row.better > 0 ? *v > *best : *v < *best)) best = v;
  }
  for (size_t i = 0; i < row.cells.size(); ++i) {
    const bool is_best = row.better != 0 && differ && i < row.values.size() && row.values[i] && *row.values[i] == *best;
    out += absl::StrCat(is_best ? "<td class=\"best\">" : "<td>", HtmlEscape(row.cells[i]), "</td>");
  }
  return out + "</tr>\n";
}

std::string GroupRow(const std::string& label, size_t runs) {
  return absl::StrCat("<tr class=\"group\"><th colspan=\"", runs + 1, "\">", HtmlEscape(label), "</th></tr>\n");
}

std::string EvalTable(const std::vector<ReportEvalRun>& runs, const std::vector<std::string>& ids) {
  std::string out = "<div class=\"scroll\"><table id=\"eval-table\">\n<thead><tr><th>metric</th>";
  for (size_t i = 0; i < runs.size(); ++i) {
    const ReportEvalRun& r = runs[i];
    out += absl::StrCat("<th data-run=\"", HtmlEscape(r.name), "\"><a href=\"#", ids[i], "\">",
                        HtmlEscape(r.name), "</a><br><span class=\"backend\">",
                        HtmlEscape(r.backend.empty() ? "—" : r.backend), "</span></th>");
  }
  out += "</tr></thead>\n<tbody>\n";

  auto text_row = [&](const std::string& key, const std::string& label, auto get) {
    Row row{key, label, {}, {}, 0};
    for (const ReportEvalRun& r : runs) {
      const std::string v = get(r);
      row.cells.push_back(v.empty() ? "—" : v);
      row.values.emplace_back();
    }
    out += TableRow(row);
  };
  auto num_row = [&](const std::string& key, const std::string& label, int better, auto get, auto format) {
    Row row{key, label, {}, {}, better};
    for (const ReportEvalRun& r : runs) {
      const std::optional<double> v = get(r);
      row.values.push_back(v);
      row.cells.push_back(format(v));
    }
    out += TableRow(row);
  };
  auto pct = [](const std::optional<double>& v) { return Percent(v); };
  auto tokens = [](const std::optional<double>& v) { return Fixed(v, 0); };
  auto count = [](const std::optional<double>& v) {
    return v ? absl::StrFormat("%.0f", *v) : std::string("—");
  };
  auto as_double = [](const std::optional<int64_t>& v) {
    return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
  };

  text_row("model", "model", [](const ReportEvalRun& r) { return r.model; });
  text_row("benchmark", "benchmark", [](const ReportEvalRun& r) { return r.benchmark; });
  num_row("samples_per_problem", "samples per problem", 0,
          [&](const ReportEvalRun& r) { return as_double(r.samples_per_problem); }, count);
  num_row("problems", "problems", 0, [&](const ReportEvalRun& r) { return as_double(r.metrics.problems); }, count);
  num_row("samples", "samples", 0, [&](const ReportEvalRun& r) { return as_double(r.metrics.samples); }, count);

  out += GroupRow("accuracy", runs.size());
  num_row("pass@1", "pass@1", 1, [](const ReportEvalRun& r) { return r.metrics.pass1; }, pct);
  // maj@n: n is the samples per problem when every run agrees on it.
  std::string maj_label = "maj@n";
  {
    std::set<int64_t> ns;
    bool all = true;
    for (const ReportEvalRun& r : runs) {
      if (r.samples_per_problem) {
        ns.insert(*r.samples_per_problem);
      } else {
        all = false;
      }
    }
    if (all && ns.size() == 1) maj_label = absl::StrCat("maj@", *ns.begin());
  }
  num_row("maj@n", maj_label, 1, [](const ReportEvalRun& r) { return r.metrics.maj; }, pct);
  std::set<int64_t> ks;
  for (const ReportEvalRun& r : runs) {
    for (const auto& [k, v] : r.metrics.pass_at_k) ks.insert(k);
  }
  ks.erase(1);  // pass@1 has its own row
  for (int64_t k : ks) {
    num_row(absl::StrCat("pass@", k), absl::StrCat("pass@", k), 1,
            [k](const ReportEvalRun& r) {
              auto it = r.metrics.pass_at_k.find(k);
              return it == r.metrics.pass_at_k.end() ? std::nullopt : std::optional<double>(it->second);
            },
            pct);
  }

  out += GroupRow("reasoning behaviour", runs.size());
  num_row("think_format_rate", "think format", 1, [](const ReportEvalRun& r) { return r.metrics.think_format_rate; },
          pct);
  num_row("mean_reasoning_tokens", "mean reasoning tokens", 0,
          [](const ReportEvalRun& r) { return r.metrics.mean_reasoning_tokens; }, tokens);
  num_row("mean_answer_tokens", "mean answer tokens", 0,
          [](const ReportEvalRun& r) { return r.metrics.mean_answer_tokens; }, tokens);
  num_row("truncation_rate", "truncation", -1, [](const ReportEvalRun& r) { return r.metrics.truncation_rate; }, pct);
  num_row("loop_rate", "loop", -1, [](const ReportEvalRun& r) { return r.metrics.loop_rate; }, pct);
  num_row("language_mix_rate", "language mix", -1, [](const ReportEvalRun& r) { return r.metrics.language_mix_rate; },
          pct);

  std::vector<std::string> levels;
  for (const ReportEvalRun& r : runs) {
    for (const auto& [level, d] : r.metrics.by_difficulty) {
      if (std::find(levels.begin(), levels.end(), level) == levels.end()) levels.push_back(level);
    }
  }
  std::sort(levels.begin(), levels.end(), NaturalLess{});
  if (!levels.empty()) {
    out += GroupRow(absl::StrCat("accuracy by difficulty (pass@1 / ", maj_label, ", problems)"), runs.size());
    for (const std::string& level : levels) {
      Row row{"difficulty:" + level, level, {}, {}, 1};
      for (const ReportEvalRun& r : runs) {
        const ReportDifficulty* d = nullptr;
        for (const auto& [l, v] : r.metrics.by_difficulty) {
          if (l == level) d = &v;
        }
        row.values.push_back(d ? d->pass1 : std::nullopt);
        row.cells.push_back(d ? absl::StrCat(Percent(d->pass1), " / ", Percent(d->maj), " (", Count(d->problems), ")")
                              : "—");
      }
      out += TableRow(row);
    }
  }
  out += GroupRow("run", runs.size());
  num_row("wall_seconds", "wall time", 0, [](const ReportEvalRun& r) { return r.wall_seconds; },
          [](const std::optional<double>& v) { return v ? Duration(*v) : std::string("—"); });
  out += "</tbody></table></div>\n";
  return out;
}

std::string Pre(const std::string& text, size_t max_chars, const char* cls) {
  auto [shown, left] = Cut(text, max_chars);
  std::string out = absl::StrCat("<pre class=\"", cls, "\">", HtmlEscape(shown), "</pre>");
  if (left) out += absl::StrCat("<p class=\"note\">… ", left, " more characters not shown</p>");
  return out + "\n";
}

std::string Trace(const ReportSample& s, const ReportOptions& options) {
  std::string out = absl::StrCat("<article class=\"trace ", s.correct ? "correct" : "incorrect", "\" data-id=\"",
                                 HtmlEscape(s.id), "\" data-sample=\"", s.sample, "\">\n<p><span class=\"verdict ",
                                 s.correct ? "ok\">✓ correct" : "bad\">✗ incorrect", "</span> · <code>",
                                 HtmlEscape(s.id), "</code> sample ", s.sample);
  if (!s.difficulty.empty()) out += absl::StrCat(" · ", HtmlEscape(s.difficulty));
  out += "</p>\n<dl class=\"trace\">\n";
  out += absl::StrCat("<dt>problem</dt><dd>", Pre(s.problem, options.max_trace_chars, "problem"), "</dd>\n");
  out += absl::StrCat("<dt>truth</dt><dd><code class=\"truth\">", HtmlEscape(s.answer), "</code></dd>\n");
  out += absl::StrCat("<dt>extracted</dt><dd><code class=\"extracted\">",
                      s.extracted.empty() ? "(none)" : HtmlEscape(s.extracted), "</code></dd>\n</dl>\n");
  out += "<p class=\"flags\">";
  out += absl::StrCat("finish: ", HtmlEscape(s.finish_reason.empty() ? "—" : s.finish_reason));
  out += absl::StrCat(" · reasoning: ",
                      s.reasoning_tokens >= 0 ? absl::StrCat(s.reasoning_tokens, " tokens")
                                              : absl::StrCat(CodePoints(s.reasoning), " characters"));
  out += absl::StrCat(" · answer: ", s.answer_tokens >= 0 ? absl::StrCat(s.answer_tokens, " tokens")
                                                          : absl::StrCat(CodePoints(s.content), " characters"));
  if (!s.think_ok) out += "<span class=\"flag\">bad think format</span>";
  if (s.truncated) out += "<span class=\"flag\">truncated</span>";
  if (s.loop) out += "<span class=\"flag\">loop</span>";
  if (s.language_mix) out += "<span class=\"flag\">language mix</span>";
  out += "</p>\n";
  out += "<details class=\"reasoning\"><summary>reasoning</summary>\n";
  out += s.reasoning.empty() ? "<p class=\"note\">(empty)</p>\n"
                              : Pre(s.reasoning, options.max_trace_chars, "reasoning");
  out += "</details>\n<details class=\"answer\"><summary>answer</summary>\n";
  out += s.content.empty() ? "<p class=\"note\">(empty)</p>\n" : Pre(s.content, options.max_trace_chars, "answer");
  out += "</details>\n</article>\n";
  return out;
}

std::string EvalSection(const ReportEvalRun& run, const std::string& id, const ReportOptions& options) {
  const std::string name = HtmlEscape(run.name);
  std::string out = absl::StrCat("<section class=\"eval-run\" id=\"", id, "\" data-run=\"", name,
                                 "\">\n<h2>Eval run: ", name, "</h2>\n<p class=\"meta\">", HtmlEscape(run.dir));
  for (const auto& [label, value] : {std::pair<const char*, std::string>{"backend", run.backend},
                                     {"model", run.model},
                                     {"benchmark", run.benchmark}}) {
    if (!value.empty()) out += absl::StrCat(" · ", label, ": <code>", HtmlEscape(value), "</code>");
  }
  out += "</p>\n";
  if (!run.settings.empty()) {
    out += "<details class=\"settings\"><summary>settings</summary><table class=\"summary\">\n";
    for (const auto& [key, value] : run.settings.items()) {
      AppendSummaryRow(out, key, value.is_string() ? value.get<std::string>() : value.dump());
    }
    out += "</table></details>\n";
  }

  if (!run.has_samples) {
    out += "<p class=\"note\">no samples.jsonl in this run: no histogram or traces</p>\n</section>\n";
    return out;
  }
  // Reasoning length: tokens when every sample knows its count, else characters.
  bool tokens = !run.samples.empty();
  for (const ReportSample& s : run.samples) tokens = tokens && s.reasoning_tokens >= 0;
  std::vector<double> lengths;
  std::vector<int> stack;
  for (const ReportSample& s : run.samples) {
    lengths.push_back(tokens ? static_cast<double>(s.reasoning_tokens) : static_cast<double>(CodePoints(s.reasoning)));
    stack.push_back(s.correct ? 0 : 1);
  }
  const std::string unit = tokens ? "tokens" : "characters";
  out += absl::StrCat("<h3>Reasoning length (", unit, ")</h3>\n");
  if (!tokens && !run.samples.empty()) {
    out += "<p class=\"note\">token counts are unknown for some samples: lengths are in characters</p>\n";
  }
  out += absl::StrCat("<div class=\"charts\" data-unit=\"", unit, "\">\n");
  out += svg::BarChart({"reasoning-length-" + run.name, "Reasoning length per sample", "reasoning " + unit, "samples"},
                       svg::HistogramBins(lengths, stack, 2, 24, true), {"correct", "incorrect"}, {kGreen, kRed});
  out += "</div>\n";

  // Traces: the first correct and incorrect ones in file order.
  std::vector<const ReportSample*> shown;
  int correct = 0, incorrect = 0;
  for (const ReportSample& s : run.samples) {
    if (s.correct && correct < options.correct_traces) shown.push_back(&s), ++correct;
  }
  for (const ReportSample& s : run.samples) {
    if (!s.correct && incorrect < options.incorrect_traces) shown.push_back(&s), ++incorrect;
  }
  out += absl::StrCat("<section class=\"samples\" data-run=\"", name, "\">\n<h3>Sample traces (", correct,
                      " correct, ", incorrect, " incorrect of ", run.samples.size(), ")</h3>\n");
  for (const ReportSample* s : shown) out += Trace(*s, options);
  if (shown.empty()) out += "<p class=\"note\">no samples</p>\n";
  out += "</section>\n</section>\n";
  return out;
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case ':':
        out += text.compare(i + 1, 2, "//") == 0 ? "&#58;" : ":";
        break;
      case '\0': out += "\xEF\xBF\xBD"; break;  // U+FFFD
      default: out += c;
    }
  }
  return out;
}
std::string RenderReportHtml(const ReportInputs& inputs, const ReportOptions& options) {
  const std::string title = HtmlEscape(options.title.empty() ? "Distill report" : options.title);
  const std::string when = options.generated_at.empty() ? NowUtc() : options.generated_at;
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // Self-contained by construction, and enforced: the browser may load nothing from anywhere.
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<meta name=\"generator\" content=\"distill report\">\n";
  out += absl::StrCat("<title>", title, "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n<main>\n");

  out += absl::StrCat("<header class=\"report\">\n<h1>", title, "</h1>\n<p class=\"meta\">generated ",
                      HtmlEscape(when), " · ", inputs.train_runs.size(), " train run",
                      inputs.train_runs.size() == 1 ? "" : "s", ", ", inputs.eval_runs.size(), " eval run",
                      inputs.eval_runs.size() == 1 ? "" : "s", "</p>\n<ul class=\"inputs\">\n");
  for (const std::string& dir : inputs.dirs) out += absl::StrCat("<li><code>", HtmlEscape(dir), "</code></li>\n");
  // Element ids from the run names, distinct even where two names slug alike.
  std::set<std::string> used;
  auto unique_id = [&used](const std::string& base) {
    std::string id = base;
    for (int i = 2; used.count(id); ++i) id = absl::StrCat(base, "-", i);
    used.insert(id);
    return id;
  };
  std::vector<std::string> train_ids, eval_ids;
  for (const ReportTrainRun& r : inputs.train_runs) train_ids.push_back(unique_id("train-" + Slug(r.name)));
  for (const ReportEvalRun& r : inputs.eval_runs) eval_ids.push_back(unique_id("eval-" + Slug(r.name)));
  out += "</ul>\n<nav><ul class=\"inputs\">\n";
  for (size_t i = 0; i < inputs.train_runs.size(); ++i) {
    const ReportTrainRun& r = inputs.train_runs[i];
    out += absl::StrCat("<li>train: <a href=\"#", train_ids[i], "\">", HtmlEscape(r.name), "</a> <code>",
                        HtmlEscape(r.dir), "</code></li>\n");
  }
  for (size_t i = 0; i < inputs.eval_runs.size(); ++i) {
    const ReportEvalRun& r = inputs.eval_runs[i];
    out += absl::StrCat("<li>eval: <a href=\"#", eval_ids[i], "\">", HtmlEscape(r.name), "</a> <code>",
                        HtmlEscape(r.dir), "</code></li>\n");
  }
  out += "</ul></nav>\n</header>\n";

  for (size_t i = 0; i < inputs.train_runs.size(); ++i) out += TrainSection(inputs.train_runs[i], train_ids[i]);
  if (!inputs.eval_runs.empty()) {
    out += "<section class=\"eval-comparison\">\n<h2>Eval comparison</h2>\n";
    out += "<p class=\"note\">rates over all samples; best value per row in bold</p>\n";
    out += EvalTable(inputs.eval_runs, eval_ids);
    out += "</section>\n";
  }
  for (size_t i = 0; i < inputs.eval_runs.size(); ++i) out += EvalSection(inputs.eval_runs[i], eval_ids[i], options);
  out += "</main>\n</body>\n</html>\n";
  return out;
}

absl::Status WriteReport(const ReportInputs& inputs, const ReportOptions& options, const std::string& path) {
  // An existing `path` that is not an HTML page (a run's metrics.jsonl, an eval.json) is a mistyped -o.
  const auto is_html = [](std::string_view head) {
    const std::string start =
        absl::AsciiStrToLower(absl::StripLeadingAsciiWhitespace(absl::string_view(head.data(), head.size())));
    return start.starts_with("<!doctype html") || start.starts_with("<html");
  };
  if (absl::Status s = data::CheckReplaceableOutput(path, "HTML file", "an HTML page", is_html); !s.ok()) return s;
  const std::string html = RenderReportHtml(inputs, options);
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create folder ", parent.string(), ": ", ec.message()));
  }
  return data::WriteFileAtomically(path, html);
}

absl::StatusOr<ReportInputs> MakeReport(const std::vector<std::string>& dirs, const ReportOptions& options,
                                        const std::string& path) {
  auto inputs = ScanReportInputs(dirs);
  if (!inputs.ok()) return inputs.status();
  if (absl::Status s = WriteReport(*inputs, options, path); !s.ok()) return s;
  return inputs;
}

}  // namespace distill::eval
