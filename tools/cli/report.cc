// distill report RUN_DIR… -o report.html: one self-contained HTML file (inline SVG and CSS, no JavaScript, no
// network) with train curves, the eval comparison table, reasoning-length histograms and sample traces.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tools/cli/verbs.h"
#include "tools/eval/report.h"

namespace distill::cli {
namespace {

struct ReportFlags {
  std::vector<std::string> dirs;
  std::string out;
  std::string title;
  int correct = 3;
  int incorrect = 3;
  bool quiet = false;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "distill report: %s\n", message.c_str());
  return 1;
}

int RunReport(const ReportFlags& flags) {
  if (flags.correct < 0 || flags.incorrect < 0) return Fail("--correct and --incorrect: expected 0 or more");
  eval::ReportOptions options;
  if (!flags.title.empty()) options.title = flags.title;
  options.correct_traces = flags.correct;
  options.incorrect_traces = flags.incorrect;
  auto inputs = eval::MakeReport(flags.dirs, options, flags.out);
  if (!inputs.ok()) return Fail(std::string(inputs.status().message()));
  if (!flags.quiet) {
    std::printf("report: %s (%zu train run%s, %zu eval run%s)\n", flags.out.c_str(), inputs->train_runs.size(),
                inputs->train_runs.size() == 1 ? "" : "s", inputs->eval_runs.size(),
                inputs->eval_runs.size() == 1 ? "" : "s");
  }
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<ReportFlags>();
  cmd.add_option("dirs", flags->dirs,
                 "train run folders (metrics.jsonl) and eval run folders (eval.json), or folders holding them")
      ->required();
  cmd.add_option("-o,--out", flags->out, "the HTML file to write")->required();
  cmd.add_option("--title", flags->title, "report title (default: Distill report)");
  cmd.add_option("--correct", flags->correct, "correct sample traces shown per eval run")->capture_default_str();
  cmd.add_option("--incorrect", flags->incorrect, "incorrect sample traces shown per eval run")->capture_default_str();
  cmd.add_flag("-q,--quiet", flags->quiet, "do not print the summary line");
  return [flags] { return RunReport(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(report, "report",
                      "Write one self-contained HTML report of train and eval runs (charts, comparison, traces)", 86,
                      distill::cli::Setup);
