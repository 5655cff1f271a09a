#include "trainer/train_checkpoint.h"

#include <torch/serialize.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "data/file_lock.h"
#include "data/remove_tree.h"
#include "data/splitmix.h"
#include "trainer/checkpoint_io.h"
#include "trainer/hf/file_io.h"
#include "trainer/optim.h"

namespace distill::trainer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kState[] = "trainer_state.json";

absl::Status WriteText(const std::string& path, const std::string& text) {
  return hf::internal::WriteFileAtomic(path, [&](const hf::internal::WriteAllFn& write) { return write(text); });
}

// checkpoint-<step> → step, or -1 (also for a step past int64, which no run of ours wrote).
int64_t StepOf(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (!name.starts_with("checkpoint-")) return -1;
  const std::string digits = name.substr(11);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  int64_t step = -1;
  return absl::SimpleAtoi(digits, &step) ? step : -1;
}

std::vector<std::pair<int64_t, fs::path>> CompleteCheckpoints(const std::string& out) {
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    const int64_t step = StepOf(entry.path());
    if (step >= 0 && fs::exists(entry.path() / kState, ec)) found.emplace_back(step, entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

absl::StatusOr<json> ReadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot open"));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", e.what()));
  }
}

// The base model's tokenizer files, with the chat template the shards were built with in tokenizer_config.json
// (a base's own template may differ, and export embeds whatever this folder says).
absl::Status CopyTokenizerFiles(const std::string& base, const fs::path& dir, const std::string& chat_template) {
  for (const char* name : {"tokenizer.json", "tokenizer.model", "special_tokens_map.json", "generation_config.json",
                           "tokenizer_config.json"}) {
    const fs::path from = fs::path(base) / name;
    std::error_code ec;
    if (!fs::exists(from, ec)) continue;
    if (std::string(name) == "tokenizer_config.json" && !chat_template.empty()) {
      auto config = ReadJson(from);
      if (!config.ok()) return config.status();
      (*config)["chat_template"] = chat_template;
      if (auto s = WriteText((dir / name).string(), config->dump(2) + "\n"); !s.ok()) return s;
      continue;
    }
    fs::copy_file(from, dir / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot copy ", from.string(), ": ", ec.message()));
  }
  if (!chat_template.empty() && !fs::exists(fs::path(base) / "tokenizer_config.json")) {
    json config = {{"chat_template", chat_template}};
    if (auto s = WriteText((dir / "tokenizer_config.json").string(), config.dump(2) + "\n");
        !s.ok())
      return s;
  }
  return absl::OkStatus();
}

// How many files hold the optimizer state: one per rank under train.shard_optimizer with several ranks.
int OptimizerShards(const TrainOptions& options, const DataParallel& dp) {
  return options.shard_optimizer ? dp.world_size() : 1;
}

// Shard rows per optimizer step over all ranks.
int64_t GlobalBatchRows(const TrainOptions& options, const DataParallel& dp) {
  return dp.world_size() * options.micro_batch_rows * options.grad_accum;
}

std::string OptimizerFileName(int rank, int shards) {
  return shards == 1 ? "optimizer.pt" : absl::StrCat("optimizer-rank", rank, "-of-", shards, ".pt");
}

// `local` when it failed here; otherwise OK only when it is OK on every rank (a collective: all ranks call it), so
// no rank goes on to wait in a collective for one that gave up. `what` ends the message of a rank that did not fail.
absl::Status EveryRankOk(DataParallel& dp, const absl::Status& local,
                         const char* what = "could not write the checkpoint") {
  auto failed = dp.AllReduceSum(int64_t{local.ok() ? 0 : 1});
  if (!failed.ok()) return failed.status();
  if (!local.ok()) return local;
  if (*failed > 0) return absl::AbortedError(absl::StrCat(*failed, " other rank(s) ", what));
  return absl::OkStatus();
}

StepMetrics MetricsFromJson(const json& j) {
  StepMetrics m;
  m.step = j.value("step", int64_t{0});
  m.epoch = j.value("epoch", int64_t{0});
  m.loss = j.value("loss", 0.0);
  m.lr = j.value("lr", 0.0);
  m.grad_norm = j.value("grad_norm", 0.0);
  m.tokens = j.value("tokens", int64_t{0});
  m.loss_tokens = j.value("loss_tokens", int64_t{0});
  m.tokens_per_s = j.value("tokens_per_s", 0.0);
  m.mfu = j.value("mfu", 0.0);
  m.memory_mb = j.value("memory_mb", 0.0);
  if (j.contains("val_loss") && j["val_loss"].is_number()) m.val_loss = j["val_loss"].get<double>();
  return m;
}

fs::path MetricsPath(const std::string& dir) { return fs::path(dir) / "metrics.jsonl"; }

// trainer_state.json as SaveCheckpoint writes it, its step that of the folder's name: a damaged or hand-edited
// file is named before anything is restored from it.
absl::Status CheckState(const json& state, const fs::path& path, int64_t folder_step) {
  auto bad = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat(path.string(), ": ", what));
  };
  if (!state.is_object()) return bad("expected a JSON object");
  if (!state.contains("step") || !state["step"].is_number_integer()) return bad("\"step\" missing or not an integer");
  if (state["step"].get<int64_t>() != folder_step) {
    return bad(absl::StrCat("\"step\" is ", state["step"].dump(), " in the folder of step ", folder_step));
  }
  if (!state.contains("mode") || !state["mode"].is_string()) return bad("\"mode\" missing or not a string");
  if (!state.contains("cursor") || !state["cursor"].is_object()) return bad("\"cursor\" missing or not an object");
  // Recorded since the run identity checks; older checkpoints lack them.
  for (const char* key : {"param_dtype", "base_model", "base_fingerprint"})
    if (state.contains(key) && !state[key].is_string()) return bad(absl::StrCat("\"", key, "\" is not a string"));
  if (state.contains("master_weights") && !state["master_weights"].is_boolean())
    return bad("\"master_weights\" is not true or false");
  for (const char* key : {"optimizer_shards", "global_batch_rows"}) {
    if (state.contains(key) && (!state[key].is_number_integer() || state[key].get<int64_t>() < 1))
      return bad(absl::StrCat("\"", key, "\" is not a positive integer"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunFolderLock> RunFolderLock::Acquire(const std::string& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out, ": ", ec.message()));
  auto fd = data::OpenLocked((fs::path(out) / ".distill-train.lock").string(), O_RDWR,
                             absl::StrCat(out, ": another distill train is running in this folder (it holds "
                                               ".distill-train.lock); wait for it to finish, or choose another "
                                               "train.out"));
  if (!fd.ok()) return fd.status();
  return RunFolderLock(*fd);
}

RunFolderLock::RunFolderLock(RunFolderLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

absl::Status CheckFreshRunFolder(const std::string& out) {
  std::error_code ec;
  std::vector<int64_t> steps;
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    if (const int64_t step = StepOf(entry.path()); step >= 0) steps.push_back(step);
  }
  std::sort(steps.begin(), steps.end());
  int64_t lines = 0;
  if (std::ifstream in(MetricsPath(out)); in) {
    std::string line;
    while (std::getline(in, line)) lines += line.empty() ? 0 : 1;
  }
  if (steps.empty() && lines == 0) return absl::OkStatus();
  std::vector<std::string> held;
  if (lines > 0) held.push_back(absl::StrCat("metrics.jsonl with ", lines, lines == 1 ? " step" : " steps"));
  if (!steps.empty()) {
    held.push_back(steps.size() == 1 ? absl::StrCat("checkpoint-", steps.front())
                                     : absl::StrCat(steps.size(), " checkpoints up to checkpoint-", steps.back()));
  }
  const bool resumable = !CompleteCheckpoints(out).empty();
  return absl::FailedPreconditionError(
      absl::StrCat(out, ": holds an earlier run (", absl::StrJoin(held, ", "), "); ",
                   resumable ? "continue it with --resume, start over"
                             : "it has no complete checkpoint to resume from: start over",
                   " with --overwrite (deletes it), or choose another train.out"));
}

absl::Status CheckOverwriteSparesInputs(const std::string& out, const std::vector<std::string>& inputs) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    if (StepOf(entry.path()) < 0) continue;
    const fs::path doomed = fs::weakly_canonical(entry.path(), ec);
    for (const std::string& input : inputs) {
      const fs::path path = fs::weakly_canonical(input, ec);
      const auto [end, _] = std::mismatch(doomed.begin(), doomed.end(), path.begin(), path.end());
      if (!ec && end == doomed.end()) {
        return absl::FailedPreconditionError(
            absl::StrCat(entry.path().string(), ": --overwrite would delete it, and the run reads ", input,
                         " from it; copy that elsewhere first, or choose another train.out"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status RunFolder::StartFresh() const {
  if (!main) return absl::OkStatus();
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::vector<std::string> earlier;  // collected first: deleting while iterating a folder is unspecified
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (StepOf(entry.path()) >= 0) earlier.push_back(entry.path().string());
  }
  for (const std::string& path : earlier) {
    if (auto s = data::RemoveTree(path); !s.ok()) return s;
  }
  std::ofstream out(MetricsPath(dir), std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", MetricsPath(dir).string()));
  return absl::OkStatus();
}

absl::Status RunFolder::WriteResolvedConfig(const std::string& yaml) const {
  if (!main) return absl::OkStatus();
  return WriteText((fs::path(dir) / "resolved.yaml").string(), yaml);
}

absl::Status RunFolder::AppendMetrics(const StepMetrics& m) const {
  if (!main) return absl::OkStatus();
  std::ofstream out(MetricsPath(dir), std::ios::app);
  out << m.ToJson().dump() << "\n";
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot append to ", MetricsPath(dir).string()));
  return absl::OkStatus();
}

std::optional<std::string> LatestCheckpoint(const std::string& out) {
  auto found = CompleteCheckpoints(out);
  if (found.empty()) return std::nullopt;
  return found.back().second.string();
}

std::string BaseWeightsFingerprint(const hf::SafetensorsCheckpoint& weights) {
  uint64_t hash = 0;
  const auto mix = [&hash](std::string_view bytes) {
    for (size_t i = 0; i < bytes.size(); i += 8) {
      uint64_t word = 0;
      std::memcpy(&word, bytes.data() + i, std::min<size_t>(8, bytes.size() - i));
      hash = data::SplitMix64Mix(hash ^ word ^ (static_cast<uint64_t>(bytes.size() - i) << 56));
    }
    hash = data::SplitMix64Mix(hash + data::kGoldenGamma);  // ends each field, so fields cannot run together
  };
  for (const hf::TensorView* t : weights.tensors()) {  // sorted by name
    mix(t->name);
    mix(hf::DTypeName(t->dtype));
    mix(std::string_view(reinterpret_cast<const char*>(t->shape.data()), t->shape.size() * sizeof(int64_t)));
    mix(std::string_view(reinterpret_cast<const char*>(t->data.data()), std::min<size_t>(t->data.size(), 4096)));
  }
  return absl::StrFormat("%016x", hash);
}

absl::StatusOr<std::string> SaveCheckpoint(const RunFolder& run, const TrainOptions& options,
                                           const RunIdentity& identity, const Model& model,
                                           const torch::optim::Optimizer& optimizer, const shard::Loader& loader,
                                           const LoraOptions& lora, int64_t step, DataParallel& dp) {
  const fs::path final_dir = fs::path(run.dir) / absl::StrCat("checkpoint-", step);
  const fs::path temp = fs::path(run.dir) / absl::StrCat(".checkpoint-", step, ".tmp");
  const int shards = OptimizerShards(options, dp);
  absl::Status s = absl::OkStatus();
  if (run.main) {
    std::error_code ec;
    (void)data::RemoveTree(temp.string());  // a temp folder left by a crash; create_directories reports trouble
    fs::create_directories(temp, ec);
    if (ec) s = absl::InternalError(absl::StrCat("cannot create ", temp.string(), ": ", ec.message()));
  }
  // Every rank writes its share of the optimizer state into rank 0's folder; all ranks run both agreements.
  if (shards > 1) {
    if (s = EveryRankOk(dp, s); s.ok())
      s = SaveOptimizerState(optimizer, step, (temp / OptimizerFileName(dp.rank(), shards)).string(),
                             identity.master_weights);
    s = EveryRankOk(dp, s);
  }
  if (!s.ok()) {
    if (run.main) (void)data::RemoveTree(temp.string());
    return s;
  }
  if (run.main) {
    s = options.mode == "lora" ? SaveLoraAdapter(model, lora, temp.string()) : SaveModel(model, temp.string());
    if (s.ok()) s = CopyTokenizerFiles(options.base_model, temp, options.chat_template);
    if (s.ok() && shards == 1)
      s = SaveOptimizerState(optimizer, step, (temp / OptimizerFileName(0, 1)).string(), identity.master_weights);
    if (s.ok()) {
      // The context trained at: an adapter's merged model takes it (hf::RaiseToTrainedContext).
      json state = {{"step", step},
                    {"mode", options.mode},
                    {"cursor", loader.CursorJson()},
                    {"optimizer_shards", shards},
                    {"global_batch_rows", GlobalBatchRows(options, dp)},
                    {"param_dtype", identity.param_dtype},
                    {"master_weights", identity.master_weights},
                    {"base_model", identity.base_model},
                    {"base_fingerprint", identity.base_fingerprint},
                    {"max_position_embeddings", model.config.max_position_embeddings},
                    {"config", options.resolved_config}};
      s = WriteText((temp / kState).string(), state.dump(2) + "\n");
    }
    if (!s.ok()) {
      (void)data::RemoveTree(temp.string());  // best effort: the error that matters is s
      return s;
    }
    // A checkpoint of the same step from an earlier, abandoned run; if it cannot go, the rename below says so.
    (void)data::RemoveTree(final_dir.string());
    std::error_code ec;
    fs::rename(temp, final_dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot rename ", temp.string(), ": ", ec.message()));
    auto found = CompleteCheckpoints(run.dir);
    for (size_t i = 0; i + static_cast<size_t>(std::max<int64_t>(1, options.keep_last)) < found.size(); ++i)
      (void)data::RemoveTree(found[i].second.string());  // pruning is best effort, as before
  }
  if (auto s = dp.Barrier(); !s.ok()) return s;
  return final_dir.string();
}

namespace {

// ResumeFromLatest's restoring half, on this rank alone: the latest checkpoint's step, its weights, optimizer state
// and loader cursor restored.
absl::StatusOr<int64_t> RestoreLatest(const RunFolder& run, const TrainOptions& options, const RunIdentity& identity,
                                      int64_t total_steps, Model& model, torch::optim::Optimizer& optimizer,
                                      const OptimizerLayout& layout, shard::Loader& loader, const LoraOptions& lora,
                                      const DataParallel& dp) {
  auto latest = LatestCheckpoint(run.dir);
  if (!latest)
    return absl::NotFoundError(absl::StrCat(run.dir, ": no complete checkpoint to resume from (the run stopped "
                                                     "before its first save); start over with --overwrite"));
  const fs::path dir = *latest;
  auto state = ReadJson(dir / kState);
  if (!state.ok()) return state.status();
  if (auto s = CheckState(*state, dir / kState, StepOf(dir)); !s.ok()) return s;
  const int64_t step = (*state)["step"].get<int64_t>();
  const std::string mode = (*state)["mode"].get<std::string>();
  if (mode != options.mode)
    return absl::FailedPreconditionError(absl::StrCat(dir.string(), ": trained in mode ", mode, ", resumed as ",
                                                      options.mode));
  if (step > total_steps)
    return absl::FailedPreconditionError(absl::StrCat(dir.string(), ": the run is past its end, step ", step,
                                                      " of ", total_steps, "; raise train.max_steps (or "
                                                      "train.epochs) to train it further"));
  const std::string saved_dtype = state->value("param_dtype", identity.param_dtype);
  if (saved_dtype != identity.param_dtype)
    return absl::FailedPreconditionError(absl::StrCat(
        dir.string(), ": trained with ", saved_dtype, " parameters, resumed with ", identity.param_dtype,
        " (train.dtype); resume with train.dtype=", saved_dtype == "bfloat16" ? "bfloat16" : "float32 (or auto)"));
  // bf16 weights saved before master copies existed: their AdamW moments are bf16 and fit no fp32 master.
  if (identity.master_weights && !state->value("master_weights", false))
    return absl::FailedPreconditionError(absl::StrCat(
        dir.string(), ": its bf16 weights were trained without fp32 master copies (an older distill), so its "
                      "optimizer state does not fit this run; start over with --overwrite"));
  // Another number of ranks continues the same run only with the same rows per step.
  const auto cursor_int = [&](const char* key, int64_t fallback) {  // loader.Restore names a malformed one below
    const json& field = (*state)["cursor"].value(key, json(fallback));
    return field.is_number_integer() ? field.get<int64_t>() : fallback;
  };
  const int64_t saved_world = cursor_int("world_size", dp.world_size());
  const int64_t saved_micro_rows = cursor_int("batch_size", options.micro_batch_rows);
  const int64_t global_rows = GlobalBatchRows(options, dp);
  if (state->contains("global_batch_rows") && (*state)["global_batch_rows"].get<int64_t>() != global_rows) {
    const int64_t saved_rows = (*state)["global_batch_rows"].get<int64_t>();
    const int64_t per_rank = saved_rows / dp.world_size();
    return absl::FailedPreconditionError(absl::StrCat(
        dir.string(), ": trained with ", saved_rows, " rows per step (ranks × micro_batch_rows × grad_accum = ",
        saved_world, " × ", saved_micro_rows, " × ", saved_rows / std::max<int64_t>(1, saved_world * saved_micro_rows),
        "), this run has ", global_rows, " (", dp.world_size(), " × ", options.micro_batch_rows, " × ",
        options.grad_accum, "); ",
        saved_rows % dp.world_size() == 0
            ? absl::StrCat("set train.micro_batch_rows × train.grad_accum to ", per_rank)
            : absl::StrCat(dp.world_size(), " ranks cannot share ", saved_rows, " rows: resume on a number of ranks "
                           "that divides it")));
  }
  if (!state->contains("global_batch_rows") && saved_world != dp.world_size())
    return absl::FailedPreconditionError(absl::StrCat(dir.string(), ": saved by ", saved_world,
                                                      " ranks without its global batch (an older distill); resume "
                                                      "it with ", saved_world, " ranks"));
  const int shards = OptimizerShards(options, dp);
  const int64_t saved_shards = (*state).value("optimizer_shards", int64_t{1});
  if (options.mode == "lora") {
    const std::string saved_base = state->value("base_fingerprint", identity.base_fingerprint);
    if (saved_base != identity.base_fingerprint)
      return absl::FailedPreconditionError(absl::StrCat(
          dir.string(), ": its adapters were trained on ", state->value("base_model", std::string("another base")),
          " (weights ", saved_base, "), not on train.base_model ", identity.base_model, " (weights ",
          identity.base_fingerprint, "); resume on the base the run started from"));
    if (auto s = CheckSameAdapterShape(lora, dir.string()); !s.ok()) return s;
    auto loaded = LoadLoraAdapter(model, dir.string());
    if (!loaded.ok()) return loaded.status();
  } else {
    auto checkpoint = hf::SafetensorsCheckpoint::Open(dir.string());
    if (!checkpoint.ok()) return checkpoint.status();
    if (auto s = LoadWeights(model, **checkpoint); !s.ok()) return s;
  }
  // The same split (then the same ranks when sharded) reads this rank's file; another reads those it needs.
  const std::string optimizer_path =
      saved_shards == shards ? (dir / OptimizerFileName(dp.rank(), shards)).string()
      : saved_shards == 1    ? (dir / OptimizerFileName(0, 1)).string()
                             : absl::StrCat((dir / "optimizer-rank*-of-").string(), saved_shards, ".pt");
  absl::StatusOr<int64_t> optimizer_step;
  if (saved_shards == shards) {
    optimizer_step = LoadOptimizerState(optimizer, optimizer_path, identity.master_weights);
  } else {
    std::vector<torch::Tensor> tensors;
    for (const auto& [name, t] : layout.named) tensors.push_back(t);
    const std::vector<int> owners = saved_shards == 1 ? std::vector<int>(tensors.size(), 0)
                                                      : OptimizerShardOwners(tensors, static_cast<int>(saved_shards));
    std::vector<SavedOptimizerShare> files(static_cast<size_t>(saved_shards));
    for (int s = 0; s < saved_shards; ++s)
      files[static_cast<size_t>(s)].path = (dir / OptimizerFileName(s, static_cast<int>(saved_shards))).string();
    for (size_t i = 0; i < owners.size(); ++i) files[static_cast<size_t>(owners[i])].indices.push_back(i);
    optimizer_step = LoadResplitOptimizerState(optimizer, layout.named, layout.stepped, files, layout.adam,
                                               identity.master_weights);
  }
  if (!optimizer_step.ok()) return optimizer_step.status();
  if (*optimizer_step != step) {
    return absl::DataLossError(absl::StrCat(optimizer_path, ": holds step ", *optimizer_step,
                                            ", trainer_state.json step ", step));
  }
  if (auto s = loader.Restore((*state)["cursor"]); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat((dir / kState).string(), ": ", s.message()));
  }
  return step;
}

}  // namespace

absl::StatusOr<Resumed> ResumeFromLatest(const RunFolder& run, const TrainOptions& options,
                                         const RunIdentity& identity, int64_t total_steps, Model& model,
                                         torch::optim::Optimizer& optimizer, const OptimizerLayout& layout,
                                         shard::Loader& loader, const LoraOptions& lora, DataParallel& dp) {
  // Every rank restores; metrics.jsonl is cut only once all have (a file one rank cannot read changes nothing).
  const absl::StatusOr<int64_t> step =
      RestoreLatest(run, options, identity, total_steps, model, optimizer, layout, loader, lora, dp);
  if (auto s = EveryRankOk(dp, step.status(), "could not resume from the checkpoint"); !s.ok()) return s;
  Resumed resumed;
  resumed.step = *step;
  std::ifstream in(MetricsPath(run.dir));
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      StepMetrics m = MetricsFromJson(json::parse(line));
      if (m.step > resumed.step) break;
      resumed.metrics.push_back(m);
      kept += line + "\n";
    } catch (const json::exception&) {
      break;  // a line cut by the kill: everything from here is redone
    }
  }
  if (run.main) {
    if (auto s = WriteText(MetricsPath(run.dir).string(), kept); !s.ok()) return s;
  }
  return resumed;
}

}  // namespace distill::trainer
