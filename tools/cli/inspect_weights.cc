#include "tools/cli/inspect_weights.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tools/gguf/gguf_file.h"
#include "trainer/hf/safetensors.h"

namespace distill::cli {
namespace {

namespace fs = std::filesystem;

constexpr size_t kTensorsShown = 40;  // without --all
constexpr char kAdapterWeights[] = "adapter_model.safetensors";

// 1.544 B, 5.12 M or 8192: a parameter count at a scale that shows its digits.
std::string Count(uint64_t n) {
  if (n >= 1'000'000'000) return absl::StrFormat("%.3f B", n / 1e9);
  if (n >= 1'000'000) return absl::StrFormat("%.2f M", n / 1e6);
  return std::to_string(n);
}

std::string Shape(const std::vector<int64_t>& dims) { return absl::StrCat("[", absl::StrJoin(dims, ", "), "]"); }

// A metadata value in one line: scalars as they are, arrays by element type, count and first items.
std::string Describe(const gguf::Value& v) {
  auto scalar = [](const gguf::Scalar& s) -> std::string {
    if (const auto* u = std::get_if<uint64_t>(&s)) return std::to_string(*u);
    if (const auto* i = std::get_if<int64_t>(&s)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&s)) return absl::StrFormat("%g", *d);
    if (const auto* b = std::get_if<bool>(&s)) return *b ? "true" : "false";
    std::string text = std::get<std::string>(s);
    if (text.size() > 120) text = text.substr(0, 117) + "...";
    for (char& c : text)
      if (c == '\n') c = ' ';
    return absl::StrCat("\"", text, "\"");
  };
  if (!v.is_array()) return absl::StrCat(gguf::ValueTypeName(v.type), " ", scalar(v.items.front()));
  std::string out = absl::StrFormat("%s[%d]", gguf::ValueTypeName(v.elem_type), v.items.size());
  for (size_t i = 0; i < v.items.size() && i < 6; ++i) out += absl::StrCat(i ? ", " : " ", scalar(v.items[i]));
  if (v.items.size() > 6) out += ", …";
  return out;
}

int InspectGguf(const std::string& path, bool all) {
  auto file = gguf::GgufFile::Open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "distill inspect: %s\n", std::string(file.status().message()).c_str());
    return 1;
  }
  std::printf("%s: GGUF v%u, %zu keys, %zu tensors, alignment %u, data at byte %llu, %.1f MB\n", path.c_str(),
              file->version(), file->kvs().size(), file->tensors().size(), file->alignment(),
              static_cast<unsigned long long>(file->data_offset()), file->file_size() / 1e6);
  for (const auto& [key, value] : file->kvs()) std::printf("  %-44s %s\n", key.c_str(), Describe(value).c_str());
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const gguf::TensorInfo& t : file->tensors()) {
    auto& [count, bytes] = by_type[gguf::TypeTraitsOf(static_cast<uint32_t>(t.type))->name];
    ++count;
    bytes += t.nbytes;
  }
  std::printf("tensors by type:");
  for (const auto& [type, cb] : by_type) std::printf(" %s ×%d (%.1f MB)", type.c_str(), cb.first, cb.second / 1e6);
  std::printf("\n");
  for (size_t i = 0; i < file->tensors().size() && (all || i < kTensorsShown); ++i) {
    const gguf::TensorInfo& t = file->tensors()[i];
    std::printf("  %-36s %-6s ne=%-22s %12llu bytes at +%llu\n", t.name.c_str(),
                gguf::TypeTraitsOf(static_cast<uint32_t>(t.type))->name, Shape(t.ne).c_str(),
                static_cast<unsigned long long>(t.nbytes), static_cast<unsigned long long>(t.offset));
  }
  if (!all && file->tensors().size() > kTensorsShown)
    std::printf("  … %zu more (--all lists every tensor)\n", file->tensors().size() - kTensorsShown);
  return 0;
}

int InspectSafetensors(const std::string& path, bool all) {
  auto checkpoint = hf::SafetensorsCheckpoint::Open(path);
  if (!checkpoint.ok()) {
    std::fprintf(stderr, "distill inspect: %s\n", std::string(checkpoint.status().message()).c_str());
    return 1;
  }
  const auto& tensors = (*checkpoint)->tensors();
  std::map<std::string, std::pair<int, uint64_t>> by_dtype;
  uint64_t params = 0;
  for (const hf::TensorView* t : tensors) {
    auto& [count, bytes] = by_dtype[std::string(hf::DTypeName(t->dtype))];
    ++count;
    bytes += t->data.size();
    params += static_cast<uint64_t>(t->numel());
  }
  std::printf("%s: safetensors, %zu tensors, %s parameters;", path.c_str(), tensors.size(), Count(params).c_str());
  for (const auto& [dtype, cb] : by_dtype) std::printf(" %s ×%d (%.1f MB)", dtype.c_str(), cb.first, cb.second / 1e6);
  std::printf("\n");
  for (size_t i = 0; i < tensors.size() && (all || i < kTensorsShown); ++i) {
    const hf::TensorView* t = tensors[i];
    std::printf("  %-52s %-5s %-18s %12zu bytes\n", t->name.c_str(), std::string(hf::DTypeName(t->dtype)).c_str(),
                Shape(t->shape).c_str(), t->data.size());
  }
  if (!all && tensors.size() > kTensorsShown)
    std::printf("  … %zu more (--all lists every tensor)\n", tensors.size() - kTensorsShown);
  return 0;
}

// A PEFT adapter folder's adapter_config.json in one line (what a merge needs: rank, scaling, targets, base).
std::string DescribeAdapterConfig(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::StrCat(path.string(), ": cannot open");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::StrCat(path.string(), ": not a JSON object");
  std::vector<std::string> parts;
  for (const char* key : {"peft_type", "r", "lora_alpha", "lora_dropout", "use_rslora", "target_modules",
                          "base_model_name_or_path"}) {
    if (j.contains(key)) parts.push_back(absl::StrCat(key, " ", j[key].dump()));
  }
  return absl::StrCat(path.string(), ": ", absl::StrJoin(parts, ", "));
}

}  // namespace

bool IsWeightsPath(const std::string& path) {
  const fs::path p(path);
  if (p.extension() == ".gguf" || p.extension() == ".safetensors") return true;
  std::error_code ec;
  return fs::is_directory(p, ec) && !fs::exists(p / "manifest.json", ec) &&
         (fs::exists(p / "model.safetensors", ec) || fs::exists(p / "model.safetensors.index.json", ec) ||
          fs::exists(p / kAdapterWeights, ec));
}

int InspectWeights(const std::string& path, bool all_tensors) {
  if (fs::path(path).extension() == ".gguf") return InspectGguf(path, all_tensors);
  std::error_code ec;
  if (fs::is_directory(path, ec) && !fs::exists(fs::path(path) / "model.safetensors", ec) &&
      !fs::exists(fs::path(path) / "model.safetensors.index.json", ec)) {  // a LoRA run's checkpoint
    std::printf("PEFT adapter %s\n", DescribeAdapterConfig(fs::path(path) / "adapter_config.json").c_str());
    return InspectSafetensors((fs::path(path) / kAdapterWeights).string(), all_tensors);
  }
  return InspectSafetensors(path, all_tensors);
}

}  // namespace distill::cli
