// distill train -c configs/<recipe>.yaml [train.key=value …]: fine-tune an HF base model on a shard folder (full
// SFT, LoRA, or plain-text pretraining) into a run folder with the resolved config, metrics.jsonl and checkpoints.
// Checks before any step: the shards were built with this base model's tokenizer (fingerprints). SIGINT or SIGTERM
// (Ctrl-C, Slurm's time limit or preemption) stops after the current step with its checkpoint saved, exit 128 + the
// signal; a second one stops at once.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/build/fingerprint.h"
#include "data/shard/shard.h"
#include "nlohmann/json.hpp"
#include "tokenizers/model_folder.h"
#include "tokenizers/training_view.h"
#include "tools/cli/progress_line.h"
#include "tools/cli/torch_verbs.h"
#include "tools/cli/print_config.h"
#include "tools/cli/verbs.h"
#include "tools/config/config.h"
#include "tools/config/train_config.h"
#include "trainer/hf/model_config.h"
#include "trainer/train.h"

namespace distill::cli {
namespace {

namespace fs = std::filesystem;

struct TrainFlags {
  std::vector<std::string> overrides;
  std::string config;
  bool resume = false;
  bool overwrite = false;
  bool quiet = false;
  bool print_config = false;
};

volatile std::sig_atomic_t g_stop_signal = 0;
bool g_stderr_is_terminal = false;  // set before the handler is installed

extern "C" void OnStopSignal(int sig) {
  g_stop_signal = sig;
  // On a terminal the progress bar holds the line: start a new one.
  static const char kNote[] =
      "\ndistill train: stopping after this step to save a checkpoint (a second signal stops at once)\n";
  const size_t skip = g_stderr_is_terminal ? 0 : 1;
  (void)!write(STDERR_FILENO, kNote + skip, sizeof(kNote) - 1 - skip);
}

// The first SIGINT/SIGTERM asks the trainer to stop at the next step's end; the handler then resets itself, so a
// second one ends the process the default way.
void CatchStopSignals() {
  g_stderr_is_terminal = isatty(STDERR_FILENO) != 0;
  struct sigaction sa{};
  sa.sa_handler = OnStopSignal;
  sa.sa_flags = SA_RESETHAND | SA_RESTART;  // restarted reads and writes: a collective's socket sees no EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // Under `distill launch`: should the launcher die (kill -9, a crash), SIGTERM stops this rank as a forwarded
  // signal would, and its pipes' EPIPE must not kill it before the checkpoint is written.
  if (const char* launcher = std::getenv("DISTILL_LAUNCHER_PID"); launcher != nullptr) {
    std::signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (std::to_string(getppid()) != launcher) raise(SIGTERM);  // it died before the line above
  }
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "distill train: %s\n", message.c_str());
  return 1;
}

// The shards must come from this base model's tokenizer: ids mean nothing under another vocabulary.
absl::Status CheckShardsMatchModel(const std::string& shards, const nlohmann::json& manifest,
                                   const std::string& model_dir, const std::string& template_override,
                                   std::string* chat_template) {
  const fs::path manifest_path = fs::path(shards) / "manifest.json";
  auto model = tok::LoadModelTokenization(model_dir, {.template_override = template_override});
  if (!model.ok()) return model.status();
  const std::string want = manifest.value("tokenizer_fingerprint", "");
  const std::string have = build::TokenizerFingerprint(*model);
  if (want != have)
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_path.string(), ": tokenizer_fingerprint ", want, " differs from the base model's (", model_dir,
        ": ", have, "); rebuild the shards with this model"));
  // The template decides where the loss mask falls and what export embeds: it must be the one the shards used.
  const std::string want_template = manifest.value("template_fingerprint", "");
  if (model->chat_template && !want_template.empty()) {
    auto prepared = tok::PrepareTrainingTemplate(*model);
    if (!prepared.ok()) return prepared.status();
    const std::string have_template = build::TemplateFingerprint(*model, prepared->end_of_turn);
    if (have_template != want_template)
      return absl::FailedPreconditionError(absl::StrCat(
          manifest_path.string(), ": template_fingerprint ", want_template, " differs from ", model->template_name,
          " (", have_template, "); set train.template to the template the shards were built with (",
          manifest.contains("tokenizer") ? manifest["tokenizer"].value("template", "?") : std::string("?"), ")"));
  }
  if (model->chat_template) *chat_template = model->chat_template->source();
  return absl::OkStatus();
}

// Rows longer than the base's context train as they are and the checkpoints declare their length (the trainer
// raises max_position_embeddings); the user hears of it once, with open-r1's companion change when it is missing.
std::string ContextNote(const trainer::TrainOptions& o, const nlohmann::json& manifest) {
  auto config = hf::LoadModelConfig(o.base_model);
  if (!config.ok()) return "";
  const int64_t seq_len = manifest.value("seq_len", int64_t{0});
  if (seq_len <= config->max_position_embeddings) return "";
  std::string note = absl::StrCat("the shards' ", seq_len, "-token rows exceed the base model's context of ",
                                  config->max_position_embeddings, " (config.json max_position_embeddings); ",
                                  "the checkpoints will declare ", seq_len);
  if (!o.rope_theta) {
    absl::StrAppend(&note, ", with rope_theta left at ", absl::StrFormat("%.0f", config->rope_theta),
                    " (open-r1 raises Qwen2.5-Math-7B's to 300000 for 32k rows: train.rope_theta)");
  }
  return note;
}

// train.eval_every asks for a validation loss the shards cannot give when they have no validation split.
std::string ValidationNote(const trainer::TrainOptions& o, const nlohmann::json& manifest) {
  if (o.eval_every <= 0) return "";
  for (const auto& name : manifest.value("split_names", nlohmann::json::array()))
    if (name == "validation") return "";
  return absl::StrCat("train.eval_every is ", o.eval_every, " but ", o.shards, " has no validation split (distill ",
                      "build --val-fraction makes one): no validation loss will be logged");
}

int RunTrain(const TrainFlags& flags) {
  const std::optional<std::string> config_path =
      flags.config.empty() ? std::nullopt : std::optional<std::string>(flags.config);
  auto cfg = config::LoadConfig(config::TrainSchema(), config_path, flags.overrides);
  if (!cfg.ok()) return Fail(std::string(cfg.status().message()));
  if (flags.print_config) return PrintConfig(*cfg);
  trainer::TrainOptions o = config::TrainOptionsFromConfig(*cfg);
  o.resume = flags.resume;
  o.overwrite = flags.overwrite;

  if (auto s = trainer::CheckStartingModel(o); !s.ok()) return Fail(std::string(s.message()));
  auto manifest = shard::ReadManifest(o.shards);
  if (!manifest.ok()) return Fail(std::string(manifest.status().message()));
  std::string chat_template;
  if (auto s = CheckShardsMatchModel(o.shards, *manifest, o.base_model, cfg->GetString("train.template"),
                                     &chat_template);
      !s.ok())
    return Fail(std::string(s.message()));
  o.chat_template = chat_template;
  if (const std::string note = ContextNote(o, *manifest); !note.empty() && !flags.quiet)
    std::fprintf(stderr, "distill train: note: %s\n", note.c_str());
  if (const std::string note = ValidationNote(o, *manifest); !note.empty() && !flags.quiet)
    std::fprintf(stderr, "distill train: note: %s\n", note.c_str());
  o.resolved_yaml = config::ToYaml(*cfg);  // written by the trainer once the run may start

  ProgressLine progress("distill train", 0, "steps");
  if (!flags.quiet) {
    o.on_step = [&](const trainer::StepMetrics& m, int64_t total) {
      progress.set_total(static_cast<double>(total));
      std::string detail = absl::StrFormat("loss %.4f lr %.2e %.0f tok/s", m.loss, m.lr, m.tokens_per_s);
      if (m.val_loss) absl::StrAppendFormat(&detail, " val %.4f", *m.val_loss);
      progress.Update(static_cast<double>(m.step), detail);
    };
  }
  o.stop_requested = [] { return static_cast<int>(g_stop_signal); };
  CatchStopSignals();
  auto report = trainer::Train(o);
  if (!flags.quiet && report.ok())
    progress.Finish(static_cast<double>(report->steps), report->stopped ? "stopped" : "done");
  if (!report.ok()) return Fail(std::string(report.status().message()));
  if (report->stopped) {
    // Rank 0 saved the checkpoint; under a launcher the other ranks say only where they stopped. Every rank exits
    // with the signal any of them got, whether or not it reached this one.
    const char* rank = std::getenv("RANK");
    const bool saver = rank == nullptr || std::string(rank) == "0";
    std::fprintf(stderr, "distill train: stopped by %s after step %lld of %lld%s%s; continue with --resume\n",
                 report->stop_reason == SIGINT ? "SIGINT" : "SIGTERM", static_cast<long long>(report->steps),
                 static_cast<long long>(report->total_steps), saver ? "; saved " : "",
                 saver ? report->last_checkpoint.c_str() : "");
    return 128 + report->stop_reason;
  }
  if (!flags.quiet) {
    std::printf("trained %lld steps: loss %.4f", static_cast<long long>(report->steps), report->final_loss);
    if (report->final_val_loss) std::printf(", validation loss %.4f", *report->final_val_loss);
    std::printf("\ncheckpoint: %s\nmetrics: %s\n", report->last_checkpoint.c_str(),
                (fs::path(o.out) / "metrics.jsonl").c_str());
  }
  return 0;
}

VerbRun Setup(CLI::App& cmd) {
  auto flags = std::make_shared<TrainFlags>();
  cmd.add_option("overrides", flags->overrides, "dotted overrides (train.lr=2e-5 train.base_model=/models/x)");
  cmd.add_option("-c,--config", flags->config, "recipe YAML (configs/…)");
  CLI::Option* resume =
      cmd.add_flag("--resume", flags->resume, "continue from the latest complete checkpoint in train.out");
  cmd.add_flag("--overwrite", flags->overwrite,
               "start afresh in a train.out that holds an earlier run, deleting its checkpoints and metrics")
      ->excludes(resume);
  cmd.add_flag("-q,--quiet", flags->quiet, "no progress bar or summary");
  AddPrintConfigFlag(cmd, &flags->print_config);
  return [flags] { return RunTrain(*flags); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_VERB(train, distill::cli::kTrainVerb.name, distill::cli::kTrainVerb.description,
                      distill::cli::kTrainVerb.order, distill::cli::Setup);
