#include "trainer/lora.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "trainer/checkpoint_io.h"
#include "trainer/hf/file_io.h"
#include "trainer/hf/safetensors.h"

namespace distill::trainer {
namespace {

constexpr char kWeightsFile[] = "adapter_model.safetensors";
constexpr char kConfigFile[] = "adapter_config.json";
constexpr char kPeftPrefix[] = "base_model.model.";

using NamedLinear = std::pair<std::string, std::shared_ptr<Linear>>;

// Every Linear of the model with its module name ("model.layers.0.self_attn.q_proj"), in registration order.
std::vector<NamedLinear> AllLinears(const Model& model) {
  std::vector<NamedLinear> out;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    if (auto linear = std::dynamic_pointer_cast<Linear>(item.value())) out.emplace_back(item.key(), linear);
  }
  return out;
}

bool Targeted(const std::string& name, const std::vector<std::string>& targets) {
  for (const auto& t : targets) {
    if (name == t || name.ends_with("." + t)) return true;
  }
  return false;
}

std::vector<NamedLinear> TargetLinears(const Model& model, const std::vector<std::string>& targets) {
  std::vector<NamedLinear> out;
  for (auto& named : AllLinears(model)) {
    if (Targeted(named.first, targets)) out.push_back(std::move(named));
  }
  return out;
}

bool HasAdapters(const Model& model) {
  for (const auto& [name, linear] : AllLinears(model)) {
    if (linear->lora) return true;
  }
  return false;
}

absl::Status CheckOptions(const LoraOptions& o) {
  if (o.r <= 0 || !(o.alpha > 0) || !(o.dropout >= 0 && o.dropout < 1) || o.target_modules.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("LoRA options out of range: r ", o.r, ", alpha ", o.alpha,
                                                   ", dropout ", o.dropout, ", ", o.target_modules.size(),
                                                   " target modules"));
  }
  for (size_t i = 0; i < o.target_modules.size(); ++i)  // adapter_config.json would list it twice
    for (size_t j = 0; j < i; ++j)
      if (o.target_modules[i] == o.target_modules[j])
        return absl::InvalidArgumentError(absl::StrCat("lora.target_modules lists ", o.target_modules[i], " twice"));
  return absl::OkStatus();
}

double Scaling(const LoraOptions& o) {
  return o.use_rslora ? o.alpha / std::sqrt(static_cast<double>(o.r)) : o.alpha / static_cast<double>(o.r);
}

std::string PeftKey(const std::string& module, char which) {
  return absl::StrCat(kPeftPrefix, module, ".lora_", std::string(1, which), ".weight");
}

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read error"));
  return text.str();
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  return hf::internal::WriteFileAtomic(path, [&](const hf::internal::WriteAllFn& write) { return write(text); });
}

torch::Tensor ToTensor(const hf::TensorView& view) {
  const torch::Dtype dtype = view.dtype == hf::DType::kF32   ? torch::kFloat
                             : view.dtype == hf::DType::kF16 ? torch::kHalf
                                                             : torch::kBFloat16;
  torch::Tensor t = torch::empty(view.shape, torch::TensorOptions().dtype(dtype));
  // A copy rather than from_blob: the mapping need not be aligned for the element type.
  std::memcpy(t.data_ptr(), view.data.data(), view.data.size());
  return t;
}

// The PEFT adapter_config.json fields, rejecting those that would change the computation in ways not modelled.
absl::StatusOr<LoraOptions> ParseAdapterConfigJson(const nlohmann::json& j, const std::string& path) {
  auto bad = [&](const std::string& what) { return absl::InvalidArgumentError(absl::StrCat(path, ": ", what)); };
  auto unsupported = [&](const std::string& what) {
    return absl::UnimplementedError(absl::StrCat(path, ": ", what, " is not supported"));
  };
  if (j.value("peft_type", "") != "LORA") return bad("peft_type is not \"LORA\"");
  LoraOptions o;
  if (!j.contains("r") || !j["r"].is_number_integer()) return bad("r must be an integer");
  o.r = j["r"].get<int64_t>();
  if (!j.contains("lora_alpha") || !j["lora_alpha"].is_number()) return bad("lora_alpha must be a number");
  o.alpha = j["lora_alpha"].get<double>();
  if (j.contains("lora_dropout")) {
    if (!j["lora_dropout"].is_number()) return bad("lora_dropout must be a number");
    o.dropout = j["lora_dropout"].get<double>();
  }
  if (!j.contains("target_modules") || !j["target_modules"].is_array()) {
    return j.contains("target_modules") && j["target_modules"].is_string()
               ? unsupported("a regex or \"all-linear\" target_modules")
               : bad("target_modules must be a list");
  }
  o.target_modules.clear();
  for (const auto& t : j["target_modules"]) {
    if (!t.is_string()) return bad("target_modules must hold strings");
    o.target_modules.push_back(t.get<std::string>());
  }
  if (j.contains("use_rslora") && j["use_rslora"].is_boolean()) o.use_rslora = j["use_rslora"].get<bool>();
  if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string()) {
    o.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
  }
  if (j.value("bias", "none") != "none") return unsupported("bias other than \"none\"");
  if (j.value("use_dora", false)) return unsupported("use_dora");
  if (j.value("fan_in_fan_out", false)) return unsupported("fan_in_fan_out");
  for (const char* field : {"rank_pattern", "alpha_pattern"}) {
    if (j.contains(field) && !j[field].is_null() && !j[field].empty()) return unsupported(field);
  }
  for (const char* field : {"modules_to_save", "layers_to_transform", "layer_replication"}) {
    if (j.contains(field) && !j[field].is_null() && !(j[field].is_array() && j[field].empty())) {
      return unsupported(field);
    }
  }
  if (absl::Status status = CheckOptions(o); !status.ok()) return bad(std::string(status.message()));
  return o;
}

absl::StatusOr<LoraOptions> ParseAdapterConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadText(path);
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  try {
    return ParseAdapterConfigJson(j, path);
  } catch (const nlohmann::json::exception& e) {  // value() of a field with the wrong type
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
}

torch::Dtype ConfigDtype(const std::string& torch_dtype) {
  if (torch_dtype == "bfloat16") return torch::kBFloat16;
  if (torch_dtype == "float16") return torch::kHalf;
  return torch::kFloat;
}

}  // namespace

absl::Status AddLora(Model& model, const LoraOptions& options) {
  if (absl::Status status = CheckOptions(options); !status.ok()) return status;
  if (HasAdapters(model)) return absl::FailedPreconditionError("the model already has LoRA adapters");
  std::vector<NamedLinear> targets = TargetLinears(model, options.target_modules);
  if (targets.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no module matches LoRA target_modules [", absl::StrJoin(options.target_modules, ", "), "]"));
  }
  torch::NoGradGuard no_grad;
  for (auto& param : model.parameters()) param.set_requires_grad(false);
  at::Generator init = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  for (auto& [name, linear] : targets) {
    // fp32 adapters on a bf16 or fp16 base, as PEFT's autocast_adapter_dtype: AdamW steps them without rounding.
    const torch::TensorOptions on =
        linear->weight.options().dtype(at::promote_types(linear->weight.scalar_type(), torch::kFloat));
    const int64_t out = linear->weight.size(0), in = linear->weight.size(1);
    // PEFT: kaiming_uniform_(a=√5) on [r, in] gives U(−b, b) with b = gain·√(3 / fan_in) = 1 / √in.
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    torch::Tensor a = torch::rand({options.r, in}, init, torch::kFloat).mul_(2 * bound).sub_(bound);
    auto lora = std::make_shared<LoraAdapter>();
    lora->a = a.to(on).set_requires_grad(true);
    lora->b = torch::zeros({out, options.r}, on).set_requires_grad(true);
    lora->scaling = Scaling(options);
    lora->dropout = options.dropout;
    linear->lora = std::move(lora);
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, torch::Tensor>> NamedTrainableParameters(const Model& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : model.named_parameters()) {
    if (item.value().requires_grad()) out.emplace_back(item.key(), item.value());
  }
  for (const auto& [name, linear] : AllLinears(model)) {
    if (!linear->lora) continue;
    out.emplace_back(name + ".lora_A.weight", linear->lora->a);
    out.emplace_back(name + ".lora_B.weight", linear->lora->b);
  }
  return out;
}

std::vector<torch::Tensor> TrainableParameters(const Model& model) {
  std::vector<torch::Tensor> out;
  for (auto& [name, param] : NamedTrainableParameters(model)) out.push_back(std::move(param));
  return out;
}

absl::Status SaveLoraAdapter(const Model& model, const LoraOptions& options, const std::string& folder) {
  std::vector<torch::Tensor> host;  // keeps the bytes the views below point at alive
  std::vector<std::string> names;
  for (const auto& [name, linear] : AllLinears(model)) {
    if (!linear->lora) continue;
    for (char which : {'A', 'B'}) {
      const torch::Tensor& t = which == 'A' ? linear->lora->a : linear->lora->b;
      const bool wide = t.scalar_type() != torch::kBFloat16 && t.scalar_type() != torch::kHalf;
      host.push_back(t.detach().to(torch::kCPU, wide ? torch::kFloat : t.scalar_type()).contiguous());
      names.push_back(PeftKey(name, which));
    }
  }
  if (host.empty()) return absl::FailedPreconditionError("the model has no LoRA adapters to save");
  std::vector<hf::TensorToWrite> tensors;
  for (size_t i = 0; i < host.size(); ++i) {
    const torch::Tensor& t = host[i];
    const hf::DType dtype = t.scalar_type() == torch::kBFloat16 ? hf::DType::kBF16
                            : t.scalar_type() == torch::kHalf   ? hf::DType::kF16
                                                                : hf::DType::kF32;
    tensors.push_back(hf::TensorToWrite{
        names[i], dtype, t.sizes().vec(),
        std::span<const std::byte>(static_cast<const std::byte*>(t.data_ptr()), t.numel() * t.element_size())});
  }
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return absl::InternalError(absl::StrCat(folder, ": cannot create folder: ", ec.message()));
  const std::filesystem::path dir(folder);
  if (absl::Status status = hf::WriteSafetensors((dir / kWeightsFile).string(), tensors, {{"format", "pt"}});
      !status.ok()) {
    return status;
  }
  // PEFT writes an integer lora_alpha; keep that form when the value is whole.
  const nlohmann::json alpha = options.alpha == std::floor(options.alpha)
                                   ? nlohmann::json(static_cast<int64_t>(options.alpha))
                                   : nlohmann::json(options.alpha);
  nlohmann::json config = {
      {"alpha_pattern", nlohmann::json::object()},
      {"auto_mapping", nullptr},
      {"base_model_name_or_path", options.base_model_name_or_path},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"layer_replication", nullptr},
      {"layers_pattern", nullptr},
      {"layers_to_transform", nullptr},
      {"lora_alpha", alpha},
      {"lora_dropout", options.dropout},
      {"modules_to_save", nullptr},
      {"peft_type", "LORA"},
      {"r", options.r},
      {"rank_pattern", nlohmann::json::object()},
      {"revision", nullptr},
      {"target_modules", options.target_modules},
      {"task_type", "CAUSAL_LM"},
      {"use_dora", false},
      {"use_rslora", options.use_rslora},
  };
  return WriteText((dir / kConfigFile).string(), config.dump(2) + "\n");
}

absl::StatusOr<LoraOptions> LoadLoraAdapter(Model& model, const std::string& folder) {
  const bool has_adapters = HasAdapters(model);
  const std::filesystem::path dir(folder);
  absl::StatusOr<LoraOptions> options = ParseAdapterConfig((dir / kConfigFile).string());
  if (!options.ok()) return options.status();
  const std::string weights_path = (dir / kWeightsFile).string();
  absl::StatusOr<std::unique_ptr<hf::SafetensorsFile>> file = hf::SafetensorsFile::Open(weights_path);
  if (!file.ok()) return file.status();

  // Check every tensor against the model before touching it, so a bad folder leaves the model as it was.
  std::vector<std::string> problems;
  std::set<std::string> expected;
  const std::vector<NamedLinear> targets = TargetLinears(model, options->target_modules);
  if (targets.empty()) problems.push_back("no module of the model matches target_modules");
  for (const auto& [name, linear] : targets) {
    const int64_t out = linear->weight.size(0), in = linear->weight.size(1);
    for (char which : {'A', 'B'}) {
      const std::string key = PeftKey(name, which);
      expected.insert(key);
      const std::vector<int64_t> shape =
          which == 'A' ? std::vector<int64_t>{options->r, in} : std::vector<int64_t>{out, options->r};
      const hf::TensorView* view = (*file)->Find(key);
      if (view == nullptr) {
        problems.push_back(absl::StrCat("missing ", key));
      } else if (view->shape != shape) {
        problems.push_back(absl::StrCat(key, " has shape [", absl::StrJoin(view->shape, ", "), "], expected [",
                                        absl::StrJoin(shape, ", "), "]"));
      }
    }
  }
  for (const auto& view : (*file)->tensors()) {
    if (!expected.contains(view.name)) problems.push_back(absl::StrCat("unexpected ", view.name));
  }
  if (has_adapters) {
    size_t adapted = 0;
    for (const auto& [name, linear] : AllLinears(model)) adapted += linear->lora ? 1 : 0;
    bool same = adapted == targets.size();
    for (const auto& [name, linear] : targets) same = same && linear->lora && linear->lora->a.size(0) == options->r;
    if (!same) problems.push_back("the model's adapters differ from the folder's in modules or r");
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(weights_path, " does not fit the model: ", absl::StrJoin(problems, "; ")));
  }
  if (!has_adapters) {
    if (absl::Status status = AddLora(model, *options); !status.ok()) return status;
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, linear] : targets) {
    linear->lora->scaling = Scaling(*options);
    linear->lora->dropout = options->dropout;
    linear->lora->a.copy_(ToTensor(*(*file)->Find(PeftKey(name, 'A'))));
    linear->lora->b.copy_(ToTensor(*(*file)->Find(PeftKey(name, 'B'))));
  }
  return options;
}

bool IsLoraAdapterFolder(const std::string& folder) {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path(folder) / kConfigFile, ec);
}

absl::StatusOr<std::string> LoraAdapterBase(const std::string& adapter_folder) {
  const std::string config_path = (std::filesystem::path(adapter_folder) / kConfigFile).string();
  absl::StatusOr<LoraOptions> options = ParseAdapterConfig(config_path);
  if (!options.ok()) return options.status();
  const std::string& base = options->base_model_name_or_path;
  if (base.empty()) return absl::NotFoundError(absl::StrCat(config_path, ": no base_model_name_or_path"));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::path(base) / "config.json", ec)) {
    return absl::NotFoundError(absl::StrCat(config_path, ": base_model_name_or_path \"", base,
                                            "\" is not a model folder here (no config.json)"));
  }
  return base;
}

absl::Status CheckSameAdapterShape(const LoraOptions& options, const std::string& folder) {
  const std::string config_path = (std::filesystem::path(folder) / kConfigFile).string();
  absl::StatusOr<LoraOptions> saved = ParseAdapterConfig(config_path);
  if (!saved.ok()) return saved.status();
  auto describe = [](const LoraOptions& o) {
    return absl::StrCat("r ", o.r, ", alpha ", o.alpha, o.use_rslora ? " (rsLoRA)" : "", ", target_modules [",
                        absl::StrJoin(o.target_modules, ", "), "]");
  };
  const auto targets = [](const LoraOptions& o) {
    return std::set<std::string>(o.target_modules.begin(), o.target_modules.end());
  };
  if (saved->r != options.r || saved->alpha != options.alpha || saved->use_rslora != options.use_rslora ||
      targets(*saved) != targets(options)) {
    return absl::InvalidArgumentError(absl::StrCat(
        config_path, ": the adapter has ", describe(*saved), ", the run asks for ", describe(options),
        "; set lora.r, lora.alpha, lora.use_rslora and lora.target_modules to the adapter's to train it further"));
  }
  return absl::OkStatus();
}

absl::Status ContinueLoraAdapter(Model& model, const LoraOptions& options, const std::string& folder) {
  if (HasAdapters(model)) return absl::FailedPreconditionError("the model already has LoRA adapters");
  if (absl::Status same = CheckSameAdapterShape(options, folder); !same.ok()) return same;
  if (absl::StatusOr<LoraOptions> loaded = LoadLoraAdapter(model, folder); !loaded.ok()) return loaded.status();
  for (auto& [name, linear] : AllLinears(model)) {
    if (linear->lora) linear->lora->dropout = options.dropout;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Model>> LoadMergedLoraModel(const std::string& base_folder,
                                                           const std::string& adapter_folder, torch::Device device,
                                                           torch::Dtype dtype) {
  absl::StatusOr<std::shared_ptr<Model>> model = LoadModel(base_folder, device, dtype);
  if (!model.ok()) return model.status();
  if (absl::StatusOr<LoraOptions> loaded = LoadLoraAdapter(**model, adapter_folder); !loaded.ok()) {
    return loaded.status();
  }
  if (absl::Status status = MergeLora(**model); !status.ok()) return status;
  return *model;
}

absl::Status MergeLora(Model& model) {
  if (!HasAdapters(model)) return absl::FailedPreconditionError("the model has no LoRA adapters to merge");
  torch::NoGradGuard no_grad;
  for (auto& [name, linear] : AllLinears(model)) {
    if (!linear->lora) continue;
    const LoraAdapter& lora = *linear->lora;
    torch::Tensor& w = linear->weight;
    const torch::ScalarType acc = at::promote_types(w.scalar_type(), torch::kFloat);
    torch::Tensor delta = torch::matmul(lora.b.to(w.device(), acc), lora.a.to(w.device(), acc)) * lora.scaling;
    w.copy_((w.to(acc) + delta).to(w.scalar_type()));
    linear->lora.reset();
  }
  for (auto& param : model.parameters()) param.set_requires_grad(true);
  return absl::OkStatus();
}

absl::Status MergeLoraFolder(const std::string& base_folder, const std::string& adapter_folder,
                             const std::string& out_folder) {
  absl::StatusOr<std::shared_ptr<Model>> model =
      LoadMergedLoraModel(base_folder, adapter_folder, torch::kCPU, torch::kFloat);
  if (!model.ok()) return model.status();
  if (absl::Status status = SaveModel(**model, out_folder, ConfigDtype((*model)->config.torch_dtype)); !status.ok()) {
    return status;
  }
  // What a user needs to run the merged model besides weights and config.json.
  static constexpr const char* kCopied[] = {"tokenizer.json",
                                            "tokenizer_config.json",
                                            "special_tokens_map.json",
                                            "tokenizer.model",
                                            "vocab.json",
                                            "merges.txt",
                                            "added_tokens.json",
                                            "generation_config.json",
                                            "chat_template.jinja",
                                            "chat_template.json"};
  // The trainer saves the tokenizer files, with the training chat template, beside the adapter: prefer those.
  std::error_code ec;
  const bool adapter_has_tokenizer =
      std::filesystem::is_regular_file(std::filesystem::path(adapter_folder) / "tokenizer.json", ec) ||
      std::filesystem::is_regular_file(std::filesystem::path(adapter_folder) / "tokenizer.model", ec);
  const std::string& source = adapter_has_tokenizer ? adapter_folder : base_folder;
  for (const char* name : kCopied) {
    const std::filesystem::path from = std::filesystem::path(source) / name;
    if (!std::filesystem::is_regular_file(from, ec)) continue;
    absl::StatusOr<std::string> text = ReadText(from.string());
    if (!text.ok()) return text.status();
    if (absl::Status status = WriteText((std::filesystem::path(out_folder) / name).string(), *text); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace distill::trainer
