#include "tools/eval/torch_backend.h"

#include <torch/cuda.h>
#include <torch/types.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

#include "trainer/checkpoint_io.h"
#include "trainer/cpu_threads.h"
#include "trainer/decode.h"
#include "trainer/hf/model_config.h"
#include "trainer/lora.h"

namespace distill::eval {

absl::StatusOr<TokenBackend> MakeTorchBackend(const EvalOptions& options) {
  torch::Device device = torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  const torch::Dtype dtype = options.torch_dtype == "bfloat16" || (options.torch_dtype == "auto" && device.is_cuda())
                                 ? torch::kBFloat16
                                 : torch::kFloat;
  absl::StatusOr<std::shared_ptr<trainer::Model>> loaded;
  EvalOptions resolved = options;  // with the adapter's base named, for the folder's generation identity
  if (trainer::IsLoraAdapterFolder(options.model)) {  // a LoRA run's checkpoint: merged into its base, as export does
    if (options.base.empty()) {
      absl::StatusOr<std::string> base = trainer::LoraAdapterBase(options.model);
      if (!base.ok()) {
        return absl::Status(base.status().code(),
                            absl::StrCat(base.status().message(), "; name the base model folder with --base"));
      }
      resolved.base = *base;
    }
    loaded = trainer::LoadMergedLoraModel(resolved.base, options.model, device, dtype);
    if (loaded.ok()) hf::RaiseToTrainedContext(options.model, (*loaded)->config);  // the context trained at
  } else if (!options.base.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--base is for a LoRA adapter folder, and ", options.model, " holds no adapter_config.json"));
  } else {
    loaded = trainer::LoadModel(options.model, device, dtype);
  }
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<trainer::Model> model = *loaded;
  if (device.is_cpu()) {
    trainer::ConfigureCpuThreads(0, model->config.hidden_size);
    trainer::KeepFreedMemoryInHeap();
  }
  model->eval();
  return TokenBackend([model, options = std::move(resolved)](const std::vector<TokenRequest>& requests,
                                                             const std::vector<int64_t>& stop_ids)
                          -> absl::StatusOr<std::vector<std::vector<TokenSample>>> {
    auto results = TokenResultLog::Open(options, "torch_results.jsonl", requests);
    if (!results.ok()) return results.status();
    TokenResultLog& log = **results;
    int64_t done = static_cast<int64_t>(log.size()), total = 0;
    for (const TokenRequest& r : requests) total += r.samples;
    if (done > 0) std::fprintf(stderr, "torch: %lld of %lld samples already in %s, resuming\n",
                               static_cast<long long>(done), static_cast<long long>(total), log.path().c_str());
    std::vector<std::vector<TokenSample>> out;
    for (size_t i = 0; i < requests.size(); ++i) {
      const TokenRequest& request = requests[i];
      trainer::GenerateOptions generate;
      // A sample ends at the model's context, as vLLM's max_model_len ends it (32,768 new tokens is the default).
      const int64_t room = model->config.max_position_embeddings - static_cast<int64_t>(request.prompt_ids.size());
      generate.max_new_tokens = std::clamp<int64_t>(room, 0, options.max_new_tokens);
      generate.temperature = options.temperature;
      generate.top_p = options.top_p;
      generate.seed = request.seed;
      generate.eos_ids = stop_ids;
      std::vector<TokenSample> samples(request.samples);
      // The missing samples in runs of at most options.batch; each sequence's generator follows its index alone.
      for (int first = 0; first < request.samples;) {
        if (const TokenSample* found = log.Find(i, first)) {
          samples[first++] = *found;
          continue;
        }
        int end = first + 1;
        while (end < request.samples && end - first < options.batch && log.Find(i, end) == nullptr) ++end;
        generate.first_sequence = first;
        generate.num_sequences = end - first;
        auto generation = trainer::Generate(*model, request.prompt_ids, generate);
        if (!generation.ok()) return generation.status();
        for (int r = 0; r < end - first; ++r) {
          std::vector<int64_t>& tokens = generation->tokens[r];
          TokenSample& sample = samples[first + r];
          const bool stopped =
              !tokens.empty() && std::find(stop_ids.begin(), stop_ids.end(), tokens.back()) != stop_ids.end();
          if (stopped) tokens.pop_back();
          sample.tokens = std::move(tokens);
          sample.finish_reason = stopped ? "stop" : "length";
          if (auto st = log.Append(i, first + r, sample); !st.ok()) return st;
        }
        done += end - first;
        if (options.on_progress) options.on_progress(done, total);
        first = end;
      }
      out.push_back(std::move(samples));
    }
    return out;
  });
}

}  // namespace distill::eval
