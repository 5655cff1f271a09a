#include "tools/eval/torch_backend.h"

#include <torch/cuda.h>
#include <torch/types.h>

#include "trainer/checkpoint_io.h"
#include "trainer/cpu_threads.h"
#include "trainer/decode.h"

namespace distill::eval {

absl::StatusOr<TokenBackend> MakeTorchBackend(const EvalOptions& options) {
  torch::Device device = torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  auto loaded = trainer::LoadModel(options.model, device, torch::kFloat);
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<trainer::Model> model = *loaded;
  if (device.is_cpu()) trainer::ConfigureCpuThreads(0, model->config.hidden_size);
  model->eval();
  return TokenBackend([model, options](const std::vector<TokenRequest>& requests, const std::vector<int64_t>& stop_ids)
                          -> absl::StatusOr<std::vector<std::vector<TokenSample>>> {
    std::vector<std::vector<TokenSample>> out;
    int64_t done = 0, total = 0;
    for (const TokenRequest& r : requests) total += r.samples;
    for (const TokenRequest& request : requests) {
      trainer::GenerateOptions generate;
      generate.max_new_tokens = options.max_new_tokens;
      generate.temperature = options.temperature;
      generate.top_p = options.top_p;
      generate.seed = request.seed;
      generate.eos_ids = stop_ids;
      generate.num_sequences = request.samples;
      auto generation = trainer::Generate(*model, request.prompt_ids, generate);
      if (!generation.ok()) return generation.status();
      std::vector<TokenSample> samples;
      for (std::vector<int64_t>& tokens : generation->tokens) {
        TokenSample sample;
        bool stopped = !tokens.empty() && std::find(stop_ids.begin(), stop_ids.end(), tokens.back()) != stop_ids.end();
        if (stopped) tokens.pop_back();
        sample.tokens = std::move(tokens);
        sample.finish_reason = stopped ? "stop" : "length";
        samples.push_back(std::move(sample));
      }
      out.push_back(std::move(samples));
      done += request.samples;
      if (options.on_progress) options.on_progress(done, total);
    }
    return out;
  });
}

}  // namespace distill::eval
