// Chunked LM head + cross-entropy. The memory claim rests on ChunkedHeadLoss below: its forward keeps only the
// selected hidden rows, the head weight and the targets, and its backward rebuilds one chunk of logits at a time,
// so the live logits never exceed chunk × V in either pass.
#include "trainer/loss.h"

#include <torch/autograd.h>
#include <torch/nn/functional/loss.h>

#include <algorithm>

#include "trainer/autocast.h"

namespace distill::trainer {

namespace {

// Softmax and CE in fp32 at least, as HF upcasts logits before the loss.
torch::ScalarType LossDtype(torch::ScalarType dtype) { return at::promote_types(dtype, torch::kFloat); }

torch::Tensor ChunkLogits(const torch::Tensor& rows, const torch::Tensor& weight) {
  return torch::matmul(rows, weight.t()).to(LossDtype(rows.scalar_type()));
}

struct ChunkedHeadLoss : torch::autograd::Function<ChunkedHeadLoss> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& rows,
                               const torch::Tensor& weight, const torch::Tensor& targets, int64_t chunk) {
    const int64_t n = rows.size(0);
    torch::Tensor total = torch::zeros({}, rows.options().dtype(LossDtype(rows.scalar_type())));
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t end = std::min(n, start + chunk);
      torch::Tensor logits = ChunkLogits(rows.slice(0, start, end), weight);
      total += torch::nn::functional::cross_entropy(
          logits, targets.slice(0, start, end),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    }
    ctx->save_for_backward({rows, weight, targets});
    ctx->saved_data["chunk"] = chunk;
    return total;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& rows = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& targets = saved[2];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const torch::Tensor grad_loss = grad_outputs[0];  // scalar
    const bool want_rows = ctx->needs_input_grad(0);
    const bool want_weight = ctx->needs_input_grad(1);

    torch::Tensor grad_rows = want_rows ? torch::empty_like(rows) : torch::Tensor();
    // bf16 sums over many chunks would round away small contributions, so grad_W accumulates in fp32.
    torch::Tensor grad_weight =
        want_weight ? torch::zeros(weight.sizes(), weight.options().dtype(LossDtype(weight.scalar_type())))
                    : torch::Tensor();
    const int64_t n = rows.size(0);
    for (int64_t start = 0; start < n && (want_rows || want_weight); start += chunk) {
      const int64_t end = std::min(n, start + chunk);
      torch::Tensor rows_chunk = rows.slice(0, start, end);
      // d CE / d logits = softmax(logits) − onehot(target).
      torch::Tensor grad_logits = torch::softmax(ChunkLogits(rows_chunk, weight), 1);
      torch::Tensor picked = targets.slice(0, start, end).unsqueeze(1);
      grad_logits.scatter_add_(1, picked, torch::full(picked.sizes(), -1.0, grad_logits.options()));
      grad_logits = grad_logits.mul_(grad_loss.to(grad_logits.scalar_type())).to(rows.scalar_type());
      if (want_rows) grad_rows.slice(0, start, end).copy_(torch::matmul(grad_logits, weight));
      if (want_weight) grad_weight.add_(torch::matmul(grad_logits.t(), rows_chunk));
    }
    if (want_weight) grad_weight = grad_weight.to(weight.scalar_type());
    return {grad_rows, grad_weight, torch::Tensor(), torch::Tensor()};
  }
};

// Flat indices [N] (int64) of the positions that count: mask non-zero and target not ignored.
torch::Tensor SelectedPositions(const torch::Tensor& targets, const torch::Tensor& loss_mask) {
  TORCH_CHECK(targets.dim() == 2 && loss_mask.sizes() == targets.sizes(), "targets and loss_mask must be [B, T]");
  torch::Tensor keep = loss_mask.reshape(-1).ne(0).logical_and(targets.reshape(-1).ne(kIgnoreTarget));
  return keep.nonzero().squeeze(1);
}

struct Selected {
  torch::Tensor index;    // [N] flat positions
  torch::Tensor rows;     // [N, H]
  torch::Tensor targets;  // [N] int64
};

Selected Select(const torch::Tensor& hidden, const torch::Tensor& targets, const torch::Tensor& loss_mask) {
  TORCH_CHECK(hidden.dim() == 3 && hidden.size(0) == targets.size(0) && hidden.size(1) == targets.size(1),
              "hidden must be [B, T, H] over targets [B, T]");
  Selected s;
  s.index = SelectedPositions(targets.to(hidden.device()), loss_mask.to(hidden.device()));
  s.rows = hidden.reshape({-1, hidden.size(2)}).index_select(0, s.index);
  s.targets = targets.to(hidden.device()).reshape(-1).to(torch::kLong).index_select(0, s.index);
  return s;
}

}  // namespace

torch::Tensor ChunkedHeadLossSum(const torch::Tensor& hidden_rows, const torch::Tensor& weight,
                                 const torch::Tensor& targets, int64_t chunk) {
  TORCH_CHECK(chunk > 0, "loss chunk must be positive, got ", chunk);
  TORCH_CHECK(hidden_rows.dim() == 2 && weight.dim() == 2 && hidden_rows.size(1) == weight.size(1),
              "hidden rows [N, H] and head weight [V, H] disagree");
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == hidden_rows.size(0), "targets must be [N]");
  return ChunkedHeadLoss::apply(hidden_rows, weight, targets.to(torch::kLong), chunk);
}

MaskedLoss MaskedLossSum(const Model& model, const torch::Tensor& hidden, const torch::Tensor& targets,
                         const torch::Tensor& loss_mask, int64_t chunk) {
  Selected s = Select(hidden, targets, loss_mask);
  return {ChunkedHeadLossSum(s.rows, LmHeadWeight(model), s.targets, chunk), s.index.size(0)};
}

double AccumulateGradients(const Model& model, const MicroBatch& batch, double denominator, bool recompute,
                           bool autocast, int64_t chunk) {
  CudaAutocast scope(autocast);
  torch::Tensor hidden = Hidden(model, batch.ids, batch.positions, batch.cu_seqlens, recompute);
  MaskedLoss loss = MaskedLossSum(model, hidden, batch.targets, batch.mask, chunk);
  const double sum = loss.sum.item<double>();
  (loss.sum / denominator).backward();
  return sum;
}

torch::Tensor FullLogitsLossSum(const Model& model, const torch::Tensor& hidden, const torch::Tensor& targets,
                                const torch::Tensor& loss_mask) {
  torch::Tensor logits = Logits(model, hidden);
  logits = logits.to(LossDtype(logits.scalar_type())).reshape({-1, logits.size(-1)});
  torch::Tensor t = targets.to(hidden.device()).reshape(-1).to(torch::kLong);
  t = t.masked_fill(loss_mask.to(hidden.device()).reshape(-1).eq(0), kIgnoreTarget);
  return torch::nn::functional::cross_entropy(
      logits, t, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(kIgnoreTarget));
}

std::vector<DocumentLoss> PerDocumentLoss(const Model& model, const torch::Tensor& hidden,
                                          const torch::Tensor& targets, const torch::Tensor& loss_mask,
                                          std::span<const int32_t> cu_seqlens, int64_t chunk) {
  TORCH_CHECK(chunk > 0, "loss chunk must be positive, got ", chunk);
  torch::NoGradGuard no_grad;
  Selected s = Select(hidden, targets, loss_mask);
  const torch::Tensor& weight = LmHeadWeight(model);
  const int64_t n = s.index.size(0);
  torch::Tensor token_loss = torch::empty({n}, torch::kDouble);
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t end = std::min(n, start + chunk);
    torch::Tensor ce = torch::nn::functional::cross_entropy(
        ChunkLogits(s.rows.slice(0, start, end), weight), s.targets.slice(0, start, end),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    token_loss.slice(0, start, end).copy_(ce.to(torch::kCPU, torch::kDouble));
  }

  std::vector<int64_t> bounds(cu_seqlens.begin(), cu_seqlens.end());
  if (bounds.empty()) {
    for (int64_t r = 0; r <= hidden.size(0); ++r) bounds.push_back(r * hidden.size(1));
  }
  TORCH_CHECK(bounds.size() >= 2 && bounds.front() == 0 && bounds.back() == hidden.size(0) * hidden.size(1),
              "cu_seqlens must run from 0 to B·T");
  std::vector<DocumentLoss> docs(bounds.size() - 1);
  torch::Tensor index = s.index.to(torch::kCPU);
  const int64_t* positions = index.data_ptr<int64_t>();
  const double* losses = token_loss.data_ptr<double>();
  size_t doc = 0;
  for (int64_t i = 0; i < n; ++i) {  // positions are ascending, so one walk assigns them to segments
    while (positions[i] >= bounds[doc + 1]) ++doc;
    docs[doc].sum += losses[i];
    ++docs[doc].tokens;
  }
  return docs;
}

}  // namespace distill::trainer
