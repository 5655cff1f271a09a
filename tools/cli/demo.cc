// distill demo [--work DIR] [--quick]: the whole pipeline offline on this machine's CPU cores — teacher-sim with
// faults → collect → verify → vocabulary → tiny base → SFT → GGUF → eval (base, student, GGUF) → report.html.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tools/cli/exception_message.h"
#include "tools/cli/torch_verbs.h"
#include "tools/cli/verbs.h"
#include "tools/demo/demo.h"

namespace distill::cli {
namespace {

struct DemoFlags {
  demo::DemoOptions options;
  bool quick = false;
  // Explicit sizes win over --quick's.
  std::optional<int> train_problems, pretrain_texts;
  std::optional<double> pretrain_epochs, sft_epochs;
};

int RunDemo(DemoFlags& flags) {
  demo::DemoOptions& o = flags.options;
  if (o.work.empty()) o.work = (std::filesystem::temp_directory_path() / "distill-demo").string();
  std::error_code ec;  // this binary (distill-torch) has the train verb the data-parallel ranks run
  if (auto self = std::filesystem::read_symlink("/proc/self/exe", ec); !ec) o.trainer_binary = self.string();
  if (flags.quick) {  // CI's shortened run: fewer problems and steps, the same stages
    o.train_problems = 600;
    o.heldout_problems = 24;
    o.pretrain_texts = 1000;
    o.pretrain_fact_lines = 1000;
    o.pretrain_epochs = 1;
    o.sft_epochs = 2;
  }
  if (flags.train_problems) o.train_problems = *flags.train_problems;
  if (flags.pretrain_texts) o.pretrain_texts = *flags.pretrain_texts;
  if (flags.pretrain_epochs) o.pretrain_epochs = *flags.pretrain_epochs;
  if (flags.sft_epochs) o.sft_epochs = *flags.sft_epochs;
  std::printf("distill demo: every artifact goes to %s\n\n", o.work.c_str());
  absl::StatusOr<demo::DemoResult> result = absl::UnknownError("");
  try {
    result = demo::RunDemo(o);
  } catch (const std::exception& e) {  // LibTorch reports errors as exceptions
    std::fprintf(stderr, "distill demo: %s\n", ExceptionMessage(e));
    return 1;
  }
  if (!result.ok()) {
    std::fprintf(stderr, "distill demo: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  std::printf("\nheld-out accuracy: base %.1f%%, student %.1f%% (LibTorch), student GGUF %.1f%% (llama.cpp); %.0f s in all\n",
              100 * result->base_accuracy, 100 * result->student_accuracy, 100 * result->gguf_accuracy,
              result->seconds);
  std::printf("open %s for the curves, the tables and sample traces\n", result->report_path.c_str());
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<DemoFlags>();
  cmd.add_option("--work", flags->options.work, "folder for every artifact (default: $TMPDIR/distill-demo)");
  cmd.add_option("--seed", flags->options.seed, "drives every random choice")->capture_default_str();
  cmd.add_option("--threads", flags->options.threads, "CPU threads (0 = all cores)")->check(kNonNegative);
  cmd.add_option("--node", flags->options.node, "node executable for the GGUF eval")->capture_default_str();
  cmd.add_flag("--quick", flags->quick, "a shortened run (fewer problems and steps), as CI runs it");
  cmd.add_option("--train-problems", flags->train_problems, "prompts sent to the teacher")->check(kPositive);
  cmd.add_option("--pretrain-texts", flags->pretrain_texts, "problem → answer texts for the base")
      ->check(kPositive);
  cmd.add_option("--pretrain-epochs", flags->pretrain_epochs, "epochs of the base's pretraining")
      ->check(kPositive);
  cmd.add_option("--sft-epochs", flags->sft_epochs, "epochs of SFT on the verified traces")->check(kPositive);
  return [flags] { return RunDemo(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(demo_verb, distill::cli::kDemoVerb.name, distill::cli::kDemoVerb.description,
                      distill::cli::kDemoVerb.order, distill::cli::Setup);
