#include "trainer/checkpoint_io.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/hf/file_io.h"

namespace distill::trainer {

namespace {

torch::Dtype TorchDtype(hf::DType dtype) {
  switch (dtype) {
    case hf::DType::kF32:
      return torch::kFloat;
    case hf::DType::kF16:
      return torch::kHalf;
    case hf::DType::kBF16:
      return torch::kBFloat16;
  }
  return torch::kFloat;
}

// The safetensors dtype and config.json torch_dtype for a torch dtype we save.
absl::StatusOr<std::pair<hf::DType, std::string>> SavedDtype(torch::Dtype dtype) {
  if (dtype == torch::kFloat) return std::pair{hf::DType::kF32, std::string("float32")};
  if (dtype == torch::kHalf) return std::pair{hf::DType::kF16, std::string("float16")};
  if (dtype == torch::kBFloat16) return std::pair{hf::DType::kBF16, std::string("bfloat16")};
  return absl::InvalidArgumentError(absl::StrCat("cannot save parameters of dtype ", c10::toString(dtype)));
}

std::string Shape(c10::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

// "what: a, b, c (and 4 more)" for an error message; empty when `names` is.
std::string Listed(const char* what, const std::vector<std::string>& names) {
  if (names.empty()) return "";
  constexpr size_t kShown = 8;
  std::vector<std::string> shown(names.begin(), names.begin() + std::min(names.size(), kShown));
  std::string text = absl::StrCat(what, ": ", absl::StrJoin(shown, ", "));
  if (names.size() > kShown) absl::StrAppend(&text, " (and ", names.size() - kShown, " more)");
  return text;
}

// A CPU tensor holding a copy of `view`'s bytes (the mapping need not be aligned for its dtype).
torch::Tensor CopyToTensor(const hf::TensorView& view) {
  torch::Tensor t = torch::empty(view.shape, TorchDtype(view.dtype));
  std::memcpy(t.data_ptr(), view.data.data(), view.data.size());
  return t;
}

}  // namespace

absl::Status LoadWeights(Model& model, const hf::SafetensorsCheckpoint& checkpoint) {
  std::map<std::string, torch::Tensor> params;
  for (const auto& item : model.named_parameters()) params[item.key()] = item.value();

  std::vector<std::string> unexpected, mismatched, missing;
  std::vector<std::pair<torch::Tensor, const hf::TensorView*>> copies;
  const hf::TensorView* tied_head = nullptr;
  for (const hf::TensorView* view : checkpoint.tensors()) {
    if (std::string_view(view->name).ends_with("rotary_emb.inv_freq")) continue;  // recomputed from config
    if (model.config.tie_word_embeddings && view->name == "lm_head.weight") {
      tied_head = view;
      continue;
    }
    auto it = params.find(view->name);
    if (it == params.end()) {
      unexpected.push_back(view->name);
      continue;
    }
    if (it->second.sizes() != c10::IntArrayRef(view->shape) ||
        view->data.size() != static_cast<size_t>(view->numel()) * hf::DTypeBytes(view->dtype)) {
      mismatched.push_back(
          absl::StrCat(view->name, " ", Shape(view->shape), " (model ", Shape(it->second.sizes()), ")"));
    } else {
      copies.emplace_back(it->second, view);
    }
    params.erase(it);  // a mis-shaped tensor is reported once, not also as missing
  }
  for (const auto& [name, param] : params) missing.push_back(name);
  std::vector<std::string> problems;
  for (const std::string& part :
       {Listed("missing", missing), Listed("unexpected", unexpected), Listed("shape differs", mismatched)}) {
    if (!part.empty()) problems.push_back(part);
  }
  if (tied_head != nullptr) {
    // Only a duplicate of the embedding can be dropped safely; a different head would silently change the model.
    const hf::TensorView* embed_view = checkpoint.Find("model.embed_tokens.weight");
    if (embed_view == nullptr || tied_head->shape != embed_view->shape ||
        !torch::equal(CopyToTensor(*tied_head).to(torch::kFloat), CopyToTensor(*embed_view).to(torch::kFloat))) {
      problems.push_back("lm_head.weight differs from model.embed_tokens.weight in a model with tied embeddings");
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint does not fit the ", model.config.model_type,
                                                   " model: ", absl::StrJoin(problems, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (auto& [param, view] : copies) param.copy_(CopyToTensor(*view));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Model>> LoadModel(const std::string& folder, torch::Device device, torch::Dtype dtype) {
  absl::StatusOr<hf::ModelConfig> config = hf::LoadModelConfig(folder);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::shared_ptr<Model>> model = MakeModel(*config, device, dtype);
  if (!model.ok()) return absl::InvalidArgumentError(absl::StrCat(folder, ": ", model.status().message()));
  absl::StatusOr<std::unique_ptr<hf::SafetensorsCheckpoint>> checkpoint = hf::SafetensorsCheckpoint::Open(folder);
  if (!checkpoint.ok()) return checkpoint.status();
  if (absl::Status status = LoadWeights(**model, **checkpoint); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(folder, ": ", status.message()));
  }
  return model;
}

absl::Status SaveModel(const Model& model, const std::string& folder, std::optional<torch::Dtype> dtype,
                       uint64_t max_shard_bytes) {
  const torch::Dtype save_dtype = dtype.value_or(model.model->embed_tokens->weight.scalar_type());
  absl::StatusOr<std::pair<hf::DType, std::string>> saved = SavedDtype(save_dtype);
  if (!saved.ok()) return saved.status();
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return absl::InternalError(absl::StrCat(folder, ": cannot create folder: ", ec.message()));

  std::vector<torch::Tensor> host;  // keeps the bytes the views below point at alive
  std::vector<hf::TensorToWrite> tensors;
  for (const auto& item : model.named_parameters()) {
    host.push_back(item.value().detach().to(torch::kCPU, save_dtype).contiguous());
    const torch::Tensor& t = host.back();
    tensors.push_back(hf::TensorToWrite{
        item.key(), saved->first, t.sizes().vec(),
        std::span<const std::byte>(static_cast<const std::byte*>(t.data_ptr()), t.numel() * t.element_size())});
  }
  if (absl::Status status = hf::WriteSafetensorsCheckpoint(folder, tensors, max_shard_bytes); !status.ok()) {
    return status;
  }
  hf::ModelConfig config = model.config;
  config.torch_dtype = saved->second;
  const std::string text = hf::ToJson(config).dump(2) + "\n";
  return hf::internal::WriteFileAtomic((std::filesystem::path(folder) / "config.json").string(),
                                       [&](const hf::internal::WriteAllFn& write) { return write(text); });
}

}  // namespace distill::trainer
