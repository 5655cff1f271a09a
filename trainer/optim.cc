#include "trainer/optim.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <optional>
#include <sstream>
#include <tuple>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "trainer/hf/file_io.h"

namespace distill::trainer {

bool DecaysWeight(std::string_view name, const torch::Tensor& param) {
  if (param.dim() < 2 || name.ends_with("bias")) return false;
  // The owning module's name ("input_layernorm", "q_norm", "norm"): a name check keeps any future non-1-D norm out.
  if (name.ends_with(".weight")) name.remove_suffix(7);
  const size_t dot = name.rfind('.');
  return name.substr(dot == std::string_view::npos ? 0 : dot + 1).find("norm") == std::string_view::npos;
}

absl::StatusOr<std::unique_ptr<torch::optim::AdamW>> MakeAdamW(const NamedTensors& params,
                                                               const AdamWOptions& options) {
  if (!(options.lr >= 0) || !(options.beta1 >= 0 && options.beta1 < 1) || !(options.beta2 >= 0 && options.beta2 < 1) ||
      !(options.eps > 0) || !(options.weight_decay >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("AdamW options out of range: lr ", options.lr, ", betas (",
                                                   options.beta1, ", ", options.beta2, "), eps ", options.eps,
                                                   ", weight_decay ", options.weight_decay));
  }
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& [name, param] : params) {
    if (!param.requires_grad()) continue;
    (DecaysWeight(name, param) ? decay : no_decay).push_back(param);
  }
  if (decay.empty() && no_decay.empty()) return absl::InvalidArgumentError("AdamW: no trainable parameters");
  auto group_options = [&](double weight_decay) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options.lr)
                                                            .betas(std::make_tuple(options.beta1, options.beta2))
                                                            .eps(options.eps)
                                                            .weight_decay(weight_decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) groups.emplace_back(decay, group_options(options.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, group_options(0.0));
  torch::optim::AdamWOptions defaults(options.lr);
  defaults.betas(std::make_tuple(options.beta1, options.beta2)).eps(options.eps).weight_decay(0.0);
  return std::make_unique<torch::optim::AdamW>(std::move(groups), defaults);
}

std::vector<int> OptimizerShardOwners(std::span<const torch::Tensor> params, int world_size) {
  std::vector<int64_t> load(static_cast<size_t>(std::max(1, world_size)), 0);
  std::vector<int> owners;
  owners.reserve(params.size());
  for (const torch::Tensor& p : params) {
    const auto lightest = std::min_element(load.begin(), load.end());  // the first of equals: the lowest rank
    *lightest += p.numel();
    owners.push_back(static_cast<int>(lightest - load.begin()));
  }
  return owners;
}

absl::StatusOr<LrDecay> ParseLrDecay(std::string_view name) {
  if (name == "cosine" || name == "cosine_with_min_lr") return LrDecay::kCosine;
  if (name == "linear") return LrDecay::kLinear;
  if (name == "constant" || name == "constant_with_warmup") return LrDecay::kConstant;
  return absl::InvalidArgumentError(absl::StrCat("unknown lr schedule \"", std::string(name),
                                                 "\" (cosine, cosine_with_min_lr, linear, constant, "
                                                 "constant_with_warmup)"));
}

int64_t WarmupSteps(const ScheduleOptions& options, int64_t total_steps) {
  if (options.warmup_steps > 0) return options.warmup_steps;
  return static_cast<int64_t>(std::ceil(options.warmup_ratio * static_cast<double>(total_steps)));
}

double LearningRate(const ScheduleOptions& options, int64_t step, int64_t total_steps) {
  const int64_t warmup = WarmupSteps(options, total_steps);
  if (step < warmup) return options.lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  const double progress = std::clamp(
      static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total_steps - warmup)), 0.0, 1.0);
  const double floor = options.min_lr_ratio;
  double factor = 1.0;
  switch (options.decay) {
    case LrDecay::kCosine:
      factor = floor + (1.0 - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
      break;
    case LrDecay::kLinear:
      factor = floor + (1.0 - floor) * (1.0 - progress);
      break;
    case LrDecay::kConstant:
      break;
  }
  return options.lr * std::max(0.0, factor);
}

void SetLearningRate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

double ClipGradNorm(std::span<const torch::Tensor> params, double max_norm) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return 0.0;
  return ScaleToMaxNorm(grads, GradNorms(grads), max_norm);
}

torch::Tensor GradNorms(std::span<const torch::Tensor> grads) {
  std::vector<torch::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads) norms.push_back(g.detach().to(at::promote_types(g.scalar_type(), torch::kFloat)).norm());
  return torch::stack(norms);
}

double ScaleToMaxNorm(std::span<const torch::Tensor> grads, const torch::Tensor& norms, double max_norm) {
  const double total = norms.norm().item<double>();
  if (!std::isfinite(total)) return total;
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    torch::NoGradGuard no_grad;
    for (const auto& g : grads) g.mul_(coef);
  }
  return total;
}

bool AllFinite(std::span<const torch::Tensor> tensors) {
  // Flags stay on their device and are reduced there, so each device syncs once rather than once per tensor.
  std::map<std::string, std::vector<torch::Tensor>> bad_by_device;
  for (const auto& t : tensors) {
    if (t.defined() && t.numel() > 0) {
      bad_by_device[t.device().str()].push_back(torch::isfinite(t.detach()).logical_not().any());
    }
  }
  for (const auto& [device, bad] : bad_by_device) {
    if (torch::stack(bad).any().item<bool>()) return false;
  }
  return true;
}

std::vector<torch::Tensor> Grads(std::span<const torch::Tensor> params) {
  std::vector<torch::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params) grads.push_back(p.grad());
  return grads;
}

namespace {

// The optimizer's state key for a parameter: LibTorch 1.13 keys by the printed TensorImpl address, 2.x by the
// pointer itself.
template <typename StateMap>
typename StateMap::key_type StateKey(const torch::Tensor& param) {
  if constexpr (std::is_same_v<typename StateMap::key_type, std::string>) {
    std::ostringstream key;
    key << param.unsafeGetTensorImpl();
    return key.str();
  } else {
    return param.unsafeGetTensorImpl();
  }
}

// torch's loader pairs saved moments with parameters by position alone; a moment of another shape would fail (or
// broadcast) only in the first step.
absl::Status CheckMomentShapes(const torch::optim::Optimizer& optimizer) {
  using StateMap = std::decay_t<decltype(optimizer.state())>;
  int64_t index = 0;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& param : group.params()) {
      const auto found = optimizer.state().find(StateKey<StateMap>(param));
      if (found != optimizer.state().end()) {
        const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(found->second.get());
        if (adamw == nullptr) return absl::DataLossError(absl::StrCat("parameter ", index, " has no AdamW state"));
        for (const torch::Tensor& moment : {adamw->exp_avg(), adamw->exp_avg_sq()}) {
          if (!moment.defined() || moment.sizes() != param.sizes()) {
            return absl::DataLossError(absl::StrCat(
                "parameter ", index, " has shape ", c10::str(param.sizes()), ", its saved moment ",
                moment.defined() ? c10::str(moment.sizes()) : std::string("none")));
          }
        }
      }
      ++index;
    }
  }
  return absl::OkStatus();
}

// The optimizer's parameters in group order (the order torch's save and load pair moments by).
std::vector<torch::Tensor> OptimizerParams(const torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> params;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  return params;
}

}  // namespace

absl::Status SaveOptimizerState(const torch::optim::Optimizer& optimizer, int64_t step, const std::string& path,
                                bool with_weights) {
  try {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive nested;
    optimizer.save(nested);
    archive.write("optimizer", nested);
    archive.write("step", torch::tensor(step, torch::kLong));
    if (with_weights) {
      const std::vector<torch::Tensor> params = OptimizerParams(optimizer);
      for (size_t i = 0; i < params.size(); ++i) archive.write(absl::StrCat("weight_", i), params[i].detach());
    }
    return hf::internal::WriteFileAtomic(path, [&](const hf::internal::WriteAllFn& write) {
      absl::Status status;
      // torch streams the zip archive through this callback. A short count would make its writer throw, and throw
      // again from its destructor while unwinding (std::terminate: a full disk aborted the run): after a failed
      // write the rest is swallowed, and the first error returned.
      archive.save_to([&](const void* data, size_t n) -> size_t {
        if (status.ok()) status = write(std::string_view(static_cast<const char*>(data), n));
        return n;
      });
      return status;
    });
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot save optimizer state: ", e.what()));
  }
}

absl::StatusOr<int64_t> LoadOptimizerState(torch::optim::Optimizer& optimizer, const std::string& path,
                                           bool with_weights) {
  torch::Device device = torch::kCPU;
  for (const auto& group : optimizer.param_groups()) {
    if (!group.params().empty()) device = group.params().front().device();
  }
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    torch::serialize::InputArchive nested;
    archive.read("optimizer", nested);
    torch::Tensor step;
    archive.read("step", step);
    if (with_weights) {  // read before anything changes, so a bad archive leaves the parameters as they were
      const std::vector<torch::Tensor> params = OptimizerParams(optimizer);
      std::vector<torch::Tensor> saved(params.size());
      for (size_t i = 0; i < params.size(); ++i) {
        if (!archive.try_read(absl::StrCat("weight_", i), saved[i]))
          return absl::DataLossError(absl::StrCat(path, ": holds no weight_", i, " (the fp32 master copy of "
                                                  "parameter ", i, "); expected one per parameter"));
        if (saved[i].sizes() != params[i].sizes() || saved[i].scalar_type() != params[i].scalar_type())
          return absl::DataLossError(absl::StrCat(path, ": weight_", i, " is ", c10::toString(saved[i].scalar_type()),
                                                  c10::str(saved[i].sizes()), ", the parameter ",
                                                  c10::toString(params[i].scalar_type()), c10::str(params[i].sizes())));
      }
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) params[i].copy_(saved[i]);
    }
    optimizer.load(nested);
    if (auto s = CheckMomentShapes(optimizer); !s.ok()) {
      return absl::DataLossError(absl::StrCat(path, ": ", s.message()));
    }
    return step.item<int64_t>();
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot load optimizer state: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot load optimizer state: ", e.what()));
  }
}

absl::StatusOr<int64_t> LoadResplitOptimizerState(torch::optim::Optimizer& optimizer, const NamedTensors& named,
                                                  const std::vector<torch::Tensor>& stepped,
                                                  const std::vector<SavedOptimizerShare>& files,
                                                  const AdamWOptions& options, bool with_weights) {
  using StateMap = std::decay_t<decltype(optimizer.state())>;
  if (stepped.size() != named.size()) return absl::InvalidArgumentError("one stepped tensor per named tensor");
  std::optional<int64_t> step;
  std::string step_from;  // the first file read
  for (const SavedOptimizerShare& file : files) {
    if (std::none_of(file.indices.begin(), file.indices.end(),
                     [&](size_t i) { return i < stepped.size() && stepped[i].defined(); }))
      continue;  // only other ranks' tensors
    // An optimizer like the one that saved the file, over stand-ins of its tensors' shapes.
    NamedTensors saved_over;
    std::map<const void*, size_t> index_of;
    for (size_t i : file.indices) {
      if (i >= named.size()) return absl::InvalidArgumentError(absl::StrCat(file.path, ": index ", i, " out of range"));
      const torch::Tensor& t = named[i].second;
      torch::Tensor stand_in = torch::zeros(t.sizes(), at::promote_types(t.scalar_type(), torch::kFloat));
      index_of[stand_in.unsafeGetTensorImpl()] = i;
      saved_over.emplace_back(named[i].first, stand_in.set_requires_grad(true));
    }
    auto reader = MakeAdamW(saved_over, options);
    if (!reader.ok()) {
      return absl::Status(reader.status().code(), absl::StrCat(file.path, ": ", reader.status().message()));
    }
    auto file_step = LoadOptimizerState(**reader, file.path, with_weights);
    if (!file_step.ok()) return file_step.status();
    if (step && *step != *file_step) {
      return absl::DataLossError(absl::StrCat(file.path, ": holds step ", *file_step, ", ", step_from, " step ",
                                              *step));
    }
    if (!step) step_from = file.path;
    step = *file_step;
    torch::NoGradGuard no_grad;
    for (const auto& group : (*reader)->param_groups()) {
      for (const auto& p : group.params()) {
        const torch::Tensor& mine = stepped[index_of.at(p.unsafeGetTensorImpl())];
        if (!mine.defined()) continue;  // another rank's
        if (with_weights) mine.copy_(p);
        const auto found = (*reader)->state().find(StateKey<StateMap>(p));
        if (found == (*reader)->state().end()) continue;  // never stepped: no state yet
        const auto& saved = static_cast<const torch::optim::AdamWParamState&>(*found->second);
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->step(saved.step());
        state->exp_avg(saved.exp_avg().to(mine.device()));
        state->exp_avg_sq(saved.exp_avg_sq().to(mine.device()));
        if (saved.max_exp_avg_sq().defined()) state->max_exp_avg_sq(saved.max_exp_avg_sq().to(mine.device()));
        optimizer.state()[StateKey<StateMap>(mine)] = std::move(state);
      }
    }
  }
  if (!step) return absl::InvalidArgumentError("no optimizer file to restore from");
  return *step;
}

}  // namespace distill::trainer
