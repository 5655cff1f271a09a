// The checkpointed layer is a custom autograd function whose inputs are the layer input, cos, sin and the layer's
// parameters. Passing the parameters as inputs (rather than calling backward() inside backward, which writes
// param.grad behind the engine's back) makes their gradients ordinary function outputs: they accumulate like any
// other, work under autograd::grad, and still flow when the layer input needs no grad (frozen embeddings + LoRA).
// The recomputation replays the forward's random draws (LoRA dropout masks), as torch.utils.checkpoint's
// preserve_rng_state does: it runs from the generator state the forward started with.
#include "trainer/recompute.h"

#include <ATen/Context.h>
#include <torch/autograd.h>

#include <cstdint>
#include <mutex>
#include <vector>

namespace distill::trainer {

namespace {

torch::Tensor GeneratorState(at::Generator& generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetGeneratorState(at::Generator& generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// What the layer computes from besides h, cos and sin: its registered parameters, then its LoRA adapters' A and
// B (not registered, see blocks.h). All are inputs of the function, or no gradient would reach them.
std::vector<torch::Tensor> LayerTensors(const DecoderLayer& layer) {
  std::vector<torch::Tensor> out = layer.parameters();
  for (const auto& module : layer.modules(/*include_self=*/false)) {
    const auto* linear = dynamic_cast<const Linear*>(module.get());
    if (linear != nullptr && linear->lora) out.insert(out.end(), {linear->lora->a, linear->lora->b});
  }
  return out;
}

std::vector<int64_t> FlattenSegments(const RowSegments& segments) {
  std::vector<int64_t> flat;
  for (size_t row = 0; row < segments.size(); ++row) {
    for (const auto& [start, end] : segments[row]) flat.insert(flat.end(), {static_cast<int64_t>(row), start, end});
  }
  return flat;
}

RowSegments UnflattenSegments(const std::vector<int64_t>& flat, int64_t rows) {
  RowSegments segments(static_cast<size_t>(rows));
  for (size_t i = 0; i + 2 < flat.size(); i += 3) {
    segments[static_cast<size_t>(flat[i])].emplace_back(flat[i + 1], flat[i + 2]);
  }
  return segments;
}

struct RecomputedLayer : torch::autograd::Function<RecomputedLayer> {
  // Forward arguments: h, cos, sin (edges 0–2), layer, segments (not tensors), then LayerTensors (edges 3…).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& h, const torch::Tensor& cos,
                               const torch::Tensor& sin, const DecoderLayer* layer, const RowSegments* segments,
                               at::TensorList params) {
    torch::NoGradGuard no_grad;  // nothing inside the layer is recorded, so nothing but h/cos/sin is kept
    ctx->save_for_backward({h, cos, sin});
    // The layer pointer rides in an int64 because saved_data holds IValues only; the caller keeps the layer alive.
    ctx->saved_data["layer"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(layer));
    ctx->saved_data["has_segments"] = segments != nullptr;
    if (segments != nullptr) ctx->saved_data["segments"] = FlattenSegments(*segments);
    ctx->saved_data["params"] = static_cast<int64_t>(params.size());
    at::Generator generator = at::globalContext().defaultGenerator(h.device());
    ctx->saved_data["rng"] = GeneratorState(generator);
    return Apply(*layer, h, Rope{cos, sin}, segments, nullptr);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const auto* layer = reinterpret_cast<const DecoderLayer*>(static_cast<intptr_t>(ctx->saved_data["layer"].toInt()));
    const bool has_segments = ctx->saved_data["has_segments"].toBool();
    const RowSegments segments =
        has_segments ? UnflattenSegments(ctx->saved_data["segments"].toIntVector(), saved[0].size(0)) : RowSegments();
    const int64_t num_params = ctx->saved_data["params"].toInt();
    const std::vector<torch::Tensor> params = LayerTensors(*layer);  // the order forward was given
    TORCH_CHECK(static_cast<int64_t>(params.size()) == num_params, "layer parameters changed between passes");

    torch::Tensor h = saved[0].detach().requires_grad_(ctx->needs_input_grad(0));
    std::vector<torch::Tensor> wrt;  // what the recomputed graph is differentiated against
    if (ctx->needs_input_grad(0)) wrt.push_back(h);
    for (int64_t i = 0; i < num_params; ++i) {
      if (ctx->needs_input_grad(static_cast<size_t>(3 + i))) wrt.push_back(params[static_cast<size_t>(i)]);
    }
    torch::autograd::variable_list grads;
    if (!wrt.empty()) {
      torch::AutoGradMode enable_grad(true);
      // The forward's draws again, then the generator continues where it stood, as if nothing had been recomputed.
      at::Generator generator = at::globalContext().defaultGenerator(h.device());
      const torch::Tensor now = GeneratorState(generator);
      SetGeneratorState(generator, ctx->saved_data["rng"].toTensor());
      torch::Tensor out = Apply(*layer, h, Rope{saved[1], saved[2]}, has_segments ? &segments : nullptr, nullptr);
      SetGeneratorState(generator, now);
      grads = torch::autograd::grad({out}, wrt, {grad_outputs[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                    /*allow_unused=*/true);
    }

    torch::autograd::variable_list result(static_cast<size_t>(5 + num_params));  // one per forward argument
    size_t next = 0;
    if (ctx->needs_input_grad(0)) result[0] = grads[next++];
    for (int64_t i = 0; i < num_params; ++i) {
      if (ctx->needs_input_grad(static_cast<size_t>(3 + i))) result[static_cast<size_t>(5 + i)] = grads[next++];
    }
    return result;
  }
};

}  // namespace

torch::Tensor ApplyRecomputed(const DecoderLayer& layer, const torch::Tensor& h, const Rope& rope,
                              const RowSegments* segments) {
  const std::vector<torch::Tensor> params = LayerTensors(layer);
  return RecomputedLayer::apply(h, rope.cos, rope.sin, &layer, segments, at::TensorList(params));
}

}  // namespace distill::trainer
