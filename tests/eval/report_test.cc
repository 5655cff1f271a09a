// The HTML report (tools/eval/report.h): run folders are found and parsed, every chart is drawn with real data,
// the eval table holds the runs' numbers, all input text is escaped, nothing points outside the file, and
// malformed inputs are errors naming file and line with nothing written.
#include "tools/eval/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/eval/report_fixture.h"
#include "tools/eval/report_svg.h"

namespace distill::eval {
namespace {

namespace fs = std::filesystem;
namespace fx = testing::report_fixture;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The element that starts with `open` (e.g. "<svg class=\"chart line\" data-chart=\"loss-x\"") up to its `close`.
std::string Element(const std::string& html, const std::string& needle, const std::string& close) {
  const size_t at = html.find(needle);
  if (at == std::string::npos) return "";
  const size_t start = html.rfind('<', at);
  const size_t end = html.find(close, at);
  if (end == std::string::npos) return "";
  return html.substr(start, end + close.size() - start);
}

std::string Chart(const std::string& html, const std::string& name) {
  return Element(html, "data-chart=\"" + name + "\"", "</svg>");
}

std::vector<std::pair<double, double>> PolylinePoints(const std::string& svg) {
  std::vector<std::pair<double, double>> pts;
  // Searched by hand: std::regex recurses per character, and a 100k-point attribute overflows an ASan stack.
  const size_t polyline = svg.find("<polyline");
  if (polyline == std::string::npos) return pts;
  const size_t begin = svg.find(" points=\"", polyline);
  if (begin == std::string::npos) return pts;
  const size_t first = begin + 9;
  std::istringstream in(svg.substr(first, svg.find('"', first) - first));
  std::string pair;
  while (in >> pair) {
    const size_t comma = pair.find(',');
    pts.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
  }
  return pts;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fx::TempFolder(::testing::UnitTest::GetInstance()->current_test_info()->name());
    dirs_ = fx::WriteFixture(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Render() {
    auto inputs = ScanReportInputs(dirs_);
    EXPECT_TRUE(inputs.ok()) << inputs.status();
    if (!inputs.ok()) return "";
    ReportOptions options;
    options.title = "Fixture & <report>";
    options.generated_at = "2026-01-02 03:04:05 UTC";
    return RenderReportHtml(*inputs, options);
  }

  fs::path root_;
  std::vector<std::string> dirs_;
};

// Property: the named folder and its immediate subfolders are scanned; folders without runs below a named one are
// ignored; every field is read.
TEST_F(ReportTest, ScanFindsTrainAndEvalRuns) {
  auto inputs = ScanReportInputs(dirs_);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  ASSERT_EQ(inputs->train_runs.size(), 1u);
  const ReportTrainRun& train = inputs->train_runs[0];
  EXPECT_EQ(train.name, "train-a");
  EXPECT_EQ(train.config_file, "resolved.yaml");
  ASSERT_EQ(train.points.size(), 50u);
  EXPECT_EQ(train.points[9].step, 10);
  EXPECT_TRUE(train.points[9].val_loss.has_value());
  EXPECT_FALSE(train.points[8].val_loss.has_value());
  ASSERT_EQ(inputs->eval_runs.size(), 2u);
  const ReportEvalRun& a = inputs->eval_runs[0];
  EXPECT_EQ(a.name, "eval-a");
  EXPECT_EQ(a.backend, "endpoint");
  EXPECT_EQ(a.samples_per_problem, 4);
  EXPECT_DOUBLE_EQ(*a.metrics.pass1, 0.625);
  ASSERT_EQ(a.metrics.pass_at_k.size(), 2u);
  EXPECT_DOUBLE_EQ(a.metrics.pass_at_k.at(4), 0.875);
  ASSERT_EQ(a.metrics.by_difficulty.size(), 2u);
  EXPECT_EQ(a.metrics.by_difficulty[0].first, "level 2");  // natural order
  EXPECT_EQ(a.samples.size(), 8u);
  EXPECT_EQ(inputs->eval_runs[1].name, "eval-b");
  EXPECT_FALSE(inputs->eval_runs[1].metrics.mean_reasoning_tokens.has_value());  // null
}

// Property: each train chart is an <svg class="chart"> whose polyline has one point per step, spread over the plot
// (several distinct x and y values), with axes, tick labels and a legend; val loss gets one dot per eval step.
TEST_F(ReportTest, TrainChartsHaveRealLines) {
  const std::string html = Render();
  for (const std::string name : {"loss-train-a", "lr-train-a", "throughput-train-a"}) {
    const std::string svg = Chart(html, name);
    ASSERT_FALSE(svg.empty()) << name;
    EXPECT_NE(svg.find("class=\"chart"), std::string::npos);
    const auto pts = PolylinePoints(svg);
    ASSERT_EQ(pts.size(), 50u) << name;
    std::set<double> xs, ys;
    for (const auto& [x, y] : pts) {
      EXPECT_GE(x, 0);
      EXPECT_LE(x, 640);
      EXPECT_GE(y, 0);
      EXPECT_LE(y, 320);
      xs.insert(x), ys.insert(y);
    }
    EXPECT_GT(xs.size(), 40u) << name;
    EXPECT_GT(ys.size(), 10u) << name;
    EXPECT_GE(Count(svg, "class=\"tick x\""), 3u) << name;
    EXPECT_GE(Count(svg, "class=\"tick y\""), 3u) << name;
    EXPECT_NE(svg.find(">step</text>"), std::string::npos) << name;
    EXPECT_NE(svg.find("class=\"legend\""), std::string::npos) << name;
  }
  const std::string loss = Chart(html, "loss-train-a");
  EXPECT_NE(loss.find("data-series=\"train loss\""), std::string::npos);
  const std::string val = Element(loss, "data-series=\"val loss\"", "</g>");
  EXPECT_EQ(Count(val, "<circle"), 5u);
  EXPECT_EQ(PolylinePoints(val).size(), 5u);
  // Loss falls: the last point sits lower on the chart (larger y) than the first.
  const auto pts = PolylinePoints(loss);
  EXPECT_GT(pts.back().second, pts.front().second);
  // The summary.
  const std::string section = Element(html, "class=\"train-run\"", "</section>");
  EXPECT_NE(section.find("50 logged (last step 50)"), std::string::npos);
  EXPECT_NE(section.find("550 MB"), std::string::npos);  // peak memory
  EXPECT_NE(section.find("resolved.yaml"), std::string::npos);
  EXPECT_NE(section.find("<th>mean tokens/s</th><td>1260.1</td>"), std::string::npos) << section;
}

// Property: the comparison table has a column per run (name, backend) and the metrics formatted as percentages,
// token means and counts, difficulty rows in natural order, and the best value per row marked.
TEST_F(ReportTest, EvalTableComparesRuns) {
  const std::string html = Render();
  const std::string table = Element(html, "id=\"eval-table\"", "</table>");
  ASSERT_FALSE(table.empty());
  EXPECT_NE(table.find("<th data-run=\"eval-a\">"), std::string::npos);
  EXPECT_NE(table.find("<th data-run=\"eval-b\">"), std::string::npos);
  EXPECT_NE(table.find(">endpoint<"), std::string::npos);
  EXPECT_NE(table.find(">torch<"), std::string::npos);
  auto row = [&](const std::string& key) { return Element(table, "data-metric=\"" + key + "\"", "</tr>"); };
  EXPECT_NE(row("pass@1").find("<td class=\"best\">62.5%</td><td>37.5%</td>"), std::string::npos) << row("pass@1");
  EXPECT_NE(row("maj@n").find("<th>maj@4</th>"), std::string::npos) << row("maj@n");
  EXPECT_NE(row("maj@n").find("75.0%"), std::string::npos);
  EXPECT_NE(row("pass@4").find("87.5%</td><td>62.5%"), std::string::npos) << row("pass@4");
  EXPECT_NE(row("think_format_rate").find("<td>87.5%</td><td>87.5%</td>"), std::string::npos);  // a tie: no best
  EXPECT_NE(row("mean_reasoning_tokens").find("<td>412</td><td>—</td>"), std::string::npos)
      << row("mean_reasoning_tokens");
  EXPECT_NE(row("mean_answer_tokens").find("<td>38</td>"), std::string::npos) << row("mean_answer_tokens");
  EXPECT_NE(row("truncation_rate").find("12.5%"), std::string::npos);
  EXPECT_NE(row("loop_rate").find("0.0%"), std::string::npos);
  EXPECT_NE(row("language_mix_rate").find("6.2%"), std::string::npos);
  EXPECT_NE(row("difficulty:level 2").find("75.0% / 100.0% (3)"), std::string::npos) << row("difficulty:level 2");
  EXPECT_LT(table.find("difficulty:level 2"), table.find("difficulty:level 10"));
  EXPECT_NE(row("wall_seconds").find("12.5 s"), std::string::npos);
}

// Property: per eval run a histogram of reasoning lengths (tokens when known, else characters, said so) and up to
// 3 correct + 3 incorrect traces with verdicts and collapsible reasoning.
TEST_F(ReportTest, EvalSectionsHaveHistogramsAndTraces) {
  const std::string html = Render();
  const std::string hist_a = Chart(html, "reasoning-length-eval-a");
  ASSERT_FALSE(hist_a.empty());
  EXPECT_GE(Count(hist_a, "class=\"bar\""), 4u);
  EXPECT_NE(hist_a.find("reasoning tokens"), std::string::npos);
  const std::string hist_b = Chart(html, "reasoning-length-eval-b");
  ASSERT_FALSE(hist_b.empty());
  EXPECT_NE(hist_b.find("reasoning characters"), std::string::npos);
  EXPECT_NE(html.find("data-unit=\"characters\""), std::string::npos);

  const std::string samples_a = Element(html, "class=\"samples\" data-run=\"eval-a\"", "</section>");
  ASSERT_FALSE(samples_a.empty());
  EXPECT_EQ(Count(samples_a, "<article class=\"trace correct\""), 3u);
  EXPECT_EQ(Count(samples_a, "<article class=\"trace incorrect\""), 3u);
  EXPECT_EQ(Count(samples_a, "✓ correct"), 3u);
  EXPECT_EQ(Count(samples_a, "✗ incorrect"), 3u);
  EXPECT_EQ(Count(samples_a, "<details class=\"reasoning\">"), 6u);
  EXPECT_NE(samples_a.find("<code class=\"truth\">42</code>"), std::string::npos);
  EXPECT_NE(samples_a.find("<code class=\"extracted\">41</code>"), std::string::npos);
  const std::string samples_b = Element(html, "class=\"samples\" data-run=\"eval-b\"", "</section>");
  EXPECT_EQ(Count(samples_b, "<article class=\"trace"), 6u);
}

// Property: input text is escaped everywhere (title, traces, problems), so the fixture's markup stays text.
TEST_F(ReportTest, EscapesAllText) {
  const std::string html = Render();
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>bold"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &amp; &#39;apostrophes&#39; "
                      "a &amp; b"),
            std::string::npos);
  EXPECT_NE(html.find("<title>Fixture &amp; &lt;report&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("2026-01-02 03:04:05 UTC"), std::string::npos);
  // No raw '&' outside entities.
  static const std::regex bare_amp("&(?![a-z]+;|#[0-9]+;)");
  EXPECT_FALSE(std::regex_search(html, bare_amp));
}

// Property: the file references nothing outside itself, even though a setting holds an http:// URL.
TEST_F(ReportTest, SelfContained) {
  const std::string html = Render();
  for (const char* bad :
       {"http://", "https://", "src=", "<link", "<script", "url(", "@import", "xlink:href", "=\"//", "file:"}) {
    const size_t at = html.find(bad);
    EXPECT_EQ(at, std::string::npos) << bad << " in …" << html.substr(at < 80 ? 0 : at - 80, 160) << "…";
  }
  EXPECT_NE(html.find("http&#58;//127.0.0.1:8080/v1"), std::string::npos);  // shown, not linked
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  static const std::regex href("href=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), href); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ((*it)[1].str().rfind('#', 0), 0u) << (*it)[1];  // in-page anchors only
  }
}

// Property: WriteReport/MakeReport write the file temp-then-rename and leave nothing else behind.
TEST_F(ReportTest, WritesFile) {
  const fs::path out = root_ / "out" / "report.html";
  auto inputs = MakeReport(dirs_, {}, out.string());
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->eval_runs.size(), 2u);
  const std::string html = Slurp(out);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(std::distance(fs::directory_iterator(out.parent_path()), fs::directory_iterator()), 1);
}

// Property: a malformed metrics.jsonl line is an error naming file:line, and no report is written (an old one
// stays as it was).
TEST_F(ReportTest, MalformedMetricsLineNamesFileAndLineAndWritesNothing) {
  const fs::path metrics = fs::path(dirs_[0]) / "metrics.jsonl";
  std::string text = Slurp(metrics);
  size_t at = 0;
  for (int i = 0; i < 6; ++i) at = text.find('\n', at) + 1;  // after line 6
  text.insert(at, "{\"step\": 7, \"loss\": oops}\n");
  fx::WriteText(metrics, text);
  const fs::path out = root_ / "out" / "report.html";
  auto inputs = MakeReport(dirs_, {}, out.string());
  ASSERT_FALSE(inputs.ok());
  EXPECT_NE(inputs.status().message().find(metrics.string() + ":7:"), std::string::npos) << inputs.status();
  EXPECT_FALSE(fs::exists(out.parent_path()));

  fx::WriteText(out, "old");
  EXPECT_FALSE(MakeReport(dirs_, {}, out.string()).ok());
  EXPECT_EQ(Slurp(out), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(out.parent_path()), fs::directory_iterator()), 1);
}

// Property: the other malformed inputs name their file (and line / field).
TEST_F(ReportTest, OtherMalformedInputs) {
  const fs::path train = dirs_[0];
  const fs::path eval_a = fs::path(dirs_[1]) / "eval-a";
  auto message = [&] {
    auto inputs = ScanReportInputs(dirs_);
    return inputs.ok() ? std::string("ok") : std::string(inputs.status().message());
  };
  const std::string metrics = Slurp(train / "metrics.jsonl");
  fx::WriteText(train / "metrics.jsonl", "{\"step\": 1, \"loss\": \"high\"}\n");
  EXPECT_NE(message().find("metrics.jsonl:1: \"loss\" must be a number"), std::string::npos) << message();
  fx::WriteText(train / "metrics.jsonl", "\n{\"loss\": 1.0}\n");
  EXPECT_NE(message().find("metrics.jsonl:2: missing \"step\""), std::string::npos) << message();
  fx::WriteText(train / "metrics.jsonl", "[1, 2]\n");
  EXPECT_NE(message().find("metrics.jsonl:1: expected a JSON object"), std::string::npos) << message();
  // An unfinished last line (the run is writing it) is left out, not an error.
  fx::WriteText(train / "metrics.jsonl", metrics + "{\"step\": 51, \"lo");
  auto inputs = ScanReportInputs(dirs_);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->train_runs[0].points.size(), 50u);
  fx::WriteText(train / "metrics.jsonl", metrics);

  const std::string eval = Slurp(eval_a / "eval.json");
  fx::WriteText(eval_a / "eval.json", "{\"name\": \"x\",\n \"metrics\": [}");
  EXPECT_NE(message().find((eval_a / "eval.json").string() + ": invalid JSON (parse error at line 2"),
            std::string::npos)
      << message();
  fx::WriteText(eval_a / "eval.json", R"({"metrics": {"pass@1": "half"}})");
  EXPECT_NE(message().find("eval.json: metrics: \"pass@1\" must be a number"), std::string::npos) << message();
  fx::WriteText(eval_a / "eval.json", R"({"metrics": {"pass@k": {"one": 0.5}}})");
  EXPECT_NE(message().find("\"pass@k\" key \"one\""), std::string::npos) << message();
  fx::WriteText(eval_a / "eval.json", eval);

  const std::string samples = Slurp(eval_a / "samples.jsonl");
  fx::WriteText(eval_a / "samples.jsonl", samples + "{\"id\": \"p9\", \"correct\": \"yes\"}\n");
  EXPECT_NE(message().find((eval_a / "samples.jsonl").string() + ":9: \"correct\" must be true or false"),
            std::string::npos)
      << message();
  fx::WriteText(eval_a / "samples.jsonl", samples + "not json\n");
  EXPECT_NE(message().find("samples.jsonl:9: invalid JSON"), std::string::npos) << message();
}

// Property: a named folder that is missing, a file, or holds no run is an error; the same folder named twice is
// read once; two runs with one name get distinct names.
TEST_F(ReportTest, FolderErrorsAndNames) {
  EXPECT_FALSE(ScanReportInputs({}).ok());
  auto missing = ScanReportInputs({(root_ / "nope").string()});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope: no such folder"), std::string::npos);
  EXPECT_FALSE(ScanReportInputs({(root_ / "train-a" / "metrics.jsonl").string()}).ok());
  fs::create_directories(root_ / "empty" / "sub");
  auto empty = ScanReportInputs({(root_ / "empty").string()});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no train run"), std::string::npos) << empty.status();

  auto twice = ScanReportInputs({dirs_[0], dirs_[0] + "/", dirs_[1]});
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(twice->train_runs.size(), 1u);

  fx::WriteTrainRun(root_ / "other" / "train-a", 3);
  auto same = ScanReportInputs({dirs_[0], (root_ / "other").string()});
  ASSERT_TRUE(same.ok()) << same.status();
  ASSERT_EQ(same->train_runs.size(), 2u);
  EXPECT_EQ(same->train_runs[1].name, "train-a (2)");
  const std::string html = RenderReportHtml(*same, {});
  EXPECT_NE(html.find("id=\"train-train-a\""), std::string::npos);
  EXPECT_NE(html.find("id=\"train-train-a-2\""), std::string::npos);
  EXPECT_NE(html.find("data-chart=\"loss-train-a (2)\""), std::string::npos);
}

// Property: a train run given directly with no eval runs renders without a table; no samples.jsonl is noted.
TEST_F(ReportTest, PartialInputs) {
  auto train_only = ScanReportInputs({dirs_[0]});
  ASSERT_TRUE(train_only.ok());
  const std::string html = RenderReportHtml(*train_only, {});
  EXPECT_EQ(html.find("eval-table"), std::string::npos);
  EXPECT_NE(html.find("data-chart=\"loss-train-a\""), std::string::npos);

  fs::remove(fs::path(dirs_[1]) / "eval-b" / "samples.jsonl");
  auto no_samples = ScanReportInputs({dirs_[1]});
  ASSERT_TRUE(no_samples.ok()) << no_samples.status();
  const std::string html2 = RenderReportHtml(*no_samples, {});
  EXPECT_NE(html2.find("no samples.jsonl in this run"), std::string::npos);
  EXPECT_EQ(html2.find("reasoning-length-eval-b"), std::string::npos);
}

// Property: long reasoning is cut at max_trace_chars code points (never inside a UTF-8 sequence), saying how much
// was left out; the trace counts follow the options.
TEST_F(ReportTest, LongTextsAreCutAndTraceCountsFollowOptions) {
  const fs::path samples = fs::path(dirs_[1]) / "eval-b" / "samples.jsonl";
  std::string reasoning;
  for (int i = 0; i < 30; ++i) reasoning += "é";
  fx::WriteText(samples, nlohmann::json({{"id", "q"}, {"correct", true}, {"reasoning", reasoning}}).dump() + "\n");
  auto inputs = ScanReportInputs(dirs_);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  ReportOptions options;
  options.max_trace_chars = 12;
  options.correct_traces = 1;
  options.incorrect_traces = 0;
  const std::string html = RenderReportHtml(*inputs, options);
  std::string twelve;
  for (int i = 0; i < 12; ++i) twelve += "é";
  const std::string cut = "<pre class=\"reasoning\">" + twelve + "</pre><p class=\"note\">… 18 more characters";
  EXPECT_NE(html.find(cut), std::string::npos);
  const std::string samples_a = Element(html, "class=\"samples\" data-run=\"eval-a\"", "</section>");
  EXPECT_EQ(Count(samples_a, "<article class=\"trace"), 1u);
  // eval-b's one sample has no token count: its histogram is in characters.
  EXPECT_NE(Chart(html, "reasoning-length-eval-b").find("reasoning characters"), std::string::npos);
}

// Property: long series are thinned per pixel column but keep their spikes; non-finite points are dropped.
TEST(ReportSvg, LongSeriesAreThinnedKeepingSpikes) {
  svg::Series s{"loss", "#000", {}, false};
  for (int i = 0; i < 100000; ++i) s.points.emplace_back(i, i == 54321 ? 100.0 : 1.0 + (i % 7) * 0.01);
  s.points.emplace_back(100000, std::nan(""));
  const std::string chart = svg::LineChart({"big", "Big", "step", "loss"}, {s});
  const auto pts = PolylinePoints(chart);
  EXPECT_LT(pts.size(), 4u * 560u);
  EXPECT_GT(pts.size(), 500u);
  double top = 1e9;
  for (const auto& p : pts) top = std::min(top, p.second);
  EXPECT_NEAR(top, 34.0, 0.5);  // the spike reaches the top of the plot area
  EXPECT_NE(svg::LineChart({"none", "None", "x", "y"}, {}).find("no data"), std::string::npos);
}

TEST(ReportSvg, TicksAndBins) {
  EXPECT_EQ(svg::NiceTicks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  const auto t = svg::NiceTicks(0.52, 2.47, 5);
  EXPECT_LE(t.front(), 0.52);
  EXPECT_GE(t.back(), 2.47);
  EXPECT_GE(t.size(), 3u);
  EXPECT_EQ(svg::NiceTicks(3, 3, 5).size() >= 2, true);  // degenerate range widened
  EXPECT_EQ(svg::FormatTick(0.30000000000000004), "0.3");
  EXPECT_EQ(svg::FormatTick(2e-5), "2e-05");
  EXPECT_EQ(svg::FormatTick(12000), "12k");
  EXPECT_EQ(svg::FormatTick(1500000), "1.5M");
  const auto bins = svg::HistogramBins({0, 1, 9, 10, 99, 100}, {0, 1, 0, 1, 0, 1}, 2, 20, true);
  ASSERT_FALSE(bins.empty());
  EXPECT_LE(bins.size(), 20u);
  EXPECT_EQ(bins.front().lo, 0);
  EXPECT_GT(bins.back().hi, 100);
  int64_t total = 0, incorrect = 0;
  for (const auto& b : bins) total += b.counts[0] + b.counts[1], incorrect += b.counts[1];
  EXPECT_EQ(total, 6);
  EXPECT_EQ(incorrect, 3);
  EXPECT_TRUE(svg::HistogramBins({}, {}, 1, 10, true).empty());
}

TEST(ReportHtml, Escape) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("see https://x.org: ok"), "see https&#58;//x.org: ok");
  EXPECT_EQ(HtmlEscape(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
}

}  // namespace
}  // namespace distill::eval
