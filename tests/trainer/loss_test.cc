// The chunked masked loss (trainer/loss.h) against the full-logits reference, its masking, and packed documents.
#include "trainer/loss.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/trainer/test_models.h"

namespace distill::trainer {
namespace {

using testing::RandomIds;
using testing::TestModel;

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Random targets in [0, vocab) with some -100, and a loss mask that is 0 on about 40% of positions.
struct Labels {
  torch::Tensor targets;  // [B, T] int64
  torch::Tensor mask;     // [B, T] uint8
};
Labels RandomLabels(int64_t rows, int64_t n, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  Labels l;
  l.targets = torch::randint(vocab, {rows, n}, torch::kLong);
  l.targets.masked_fill_(torch::rand({rows, n}).lt(0.1), kIgnoreTarget);
  l.mask = torch::rand({rows, n}).lt(0.6).to(torch::kUInt8);
  return l;
}

struct Grads {
  torch::Tensor loss;
  torch::Tensor hidden;                        // d loss / d hidden [B, T, H]
  std::map<std::string, torch::Tensor> params;  // d loss / d every parameter, head weight included
};

// Runs the model and one loss (chunked with `chunk` > 0, else the full-logits reference) and collects gradients.
Grads RunLoss(Model& model, const torch::Tensor& ids, const Labels& labels, int64_t chunk) {
  model.zero_grad();
  torch::Tensor positions = torch::arange(ids.size(1)).expand(ids.sizes()).contiguous();
  torch::Tensor hidden = Hidden(model, ids, positions);
  hidden.retain_grad();
  torch::Tensor loss = chunk > 0 ? MaskedLossSum(model, hidden, labels.targets, labels.mask, chunk).sum
                                 : FullLogitsLossSum(model, hidden, labels.targets, labels.mask);
  loss.backward();
  Grads g{loss.detach(), hidden.grad().clone(), {}};
  for (const auto& item : model.named_parameters()) g.params[item.key()] = item.value().grad().clone();
  return g;
}

// Property: the chunked loss and its gradients wrt hidden, the head weight and every model parameter equal the
// full-logits cross-entropy, whether or not the chunk divides the token count, for tied and untied heads, in fp64,
// fp32 and bf16 (to bf16 rounding: both round the logits to bf16 before the fp32 softmax).
TEST(MaskedLossTest, ChunkedEqualsFullLogits) {
  struct Case {
    const char* name;
    hf::ModelConfig config;
  };
  for (const Case& c : {Case{"llama31 untied", testing::Llama31()}, Case{"qwen25 tied", testing::Qwen25()}}) {
    for (torch::Dtype dtype : {torch::kDouble, torch::kFloat, torch::kBFloat16}) {
      std::shared_ptr<Model> model = TestModel(c.config, 7, dtype);
      const int64_t rows = 2, n = 40, vocab = c.config.vocab_size;
      torch::Tensor ids = RandomIds(rows, n, vocab, 11);
      Labels labels = RandomLabels(rows, n, vocab, 12);
      // Drop counted tokens until 8 divides the count (7 then does not), so both chunk cases are exercised.
      auto counted = [&] { return labels.mask.ne(0).logical_and(labels.targets.ne(kIgnoreTarget)); };
      while (counted().sum().item<int64_t>() % 8 != 0) {
        labels.mask.reshape(-1).index_fill_(0, counted().reshape(-1).nonzero()[0], 0);
      }
      const int64_t count = counted().sum().item<int64_t>();
      const int64_t divides = 8, not_divides = 7;
      ASSERT_EQ(count % divides, 0) << count;
      ASSERT_NE(count % not_divides, 0) << count;

      const Grads full = RunLoss(*model, ids, labels, 0);
      for (int64_t chunk : {divides, not_divides, kDefaultLossChunk}) {
        SCOPED_TRACE(::testing::Message() << c.name << " dtype " << dtype << " tokens " << count << " chunk " << chunk);
        const Grads chunked = RunLoss(*model, ids, labels, chunk);
        const bool fp64 = dtype == torch::kDouble, bf16 = dtype == torch::kBFloat16;
        const double loss_tol = fp64 ? 1e-10 : (bf16 ? 1e-3 : 1e-4) * full.loss.abs().item<double>();
        const double grad_tol = fp64 ? 1e-11 : bf16 ? 2e-2 : 5e-5;
        EXPECT_NEAR(chunked.loss.item<double>(), full.loss.item<double>(), loss_tol);
        double worst = MaxAbsDiff(chunked.hidden, full.hidden);
        EXPECT_LE(worst, grad_tol) << "hidden";
        for (const auto& [name, grad] : full.params) {
          const double diff = MaxAbsDiff(chunked.params.at(name), grad);
          // Parameter gradients sum over every token, so they scale with the gradients' size.
          EXPECT_LE(diff, grad_tol * std::max(1.0, grad.abs().max().item<double>())) << name;
          worst = std::max(worst, diff);
        }
        std::printf("%s %s chunk %lld of %lld tokens: loss %.6f vs %.6f, max grad diff %.3g\n", c.name,
                    fp64 ? "fp64" : bf16 ? "bf16" : "fp32", static_cast<long long>(chunk), static_cast<long long>(count),
                    chunked.loss.item<double>(), full.loss.item<double>(), worst);
      }
    }
  }
  const double tokens = 32768, vocab = 151936;  // one 32k-token row on a Qwen2.5 vocabulary
  std::printf("logits avoided: this test %lld bytes; a 32k row x 151936 vocab in fp32 %.1f GB vs one chunk %.1f MB\n",
              static_cast<long long>(2 * 40 * 96 * 4), tokens * vocab * 4 / 1e9, kDefaultLossChunk * vocab * 4 / 1e6);
}

// Property: mask-0 (and ignored-target) positions contribute nothing: their hidden-gradient rows are exactly 0, and
// changing their hidden states or targets changes neither the loss nor any gradient, bit for bit.
TEST(MaskedLossTest, MaskedPositionsGetNoGradient) {
  std::shared_ptr<Model> model = TestModel(testing::Llama31());
  const int64_t rows = 2, n = 32, vocab = 96, dim = model->config.hidden_size;
  Labels labels = RandomLabels(rows, n, vocab, 21);
  torch::Tensor off = labels.mask.eq(0).logical_or(labels.targets.eq(kIgnoreTarget));  // [B, T] bool
  ASSERT_GT(off.sum().item<int64_t>(), 0);
  torch::manual_seed(22);
  torch::Tensor base = torch::randn({rows, n, dim});

  auto run = [&](const torch::Tensor& hidden_values, const torch::Tensor& targets) {
    model->zero_grad();
    torch::Tensor hidden = hidden_values.clone().requires_grad_(true);
    MaskedLoss loss = MaskedLossSum(*model, hidden, targets, labels.mask, 7);
    loss.sum.backward();
    return std::make_tuple(loss.sum.detach(), hidden.grad().clone(), LmHeadWeight(*model).grad().clone(), loss.tokens);
  };
  auto [loss, grad_hidden, grad_head, tokens] = run(base, labels.targets);
  EXPECT_EQ(tokens, rows * n - off.sum().item<int64_t>());
  EXPECT_TRUE(torch::equal(grad_hidden.index({off}), torch::zeros({off.sum().item<int64_t>(), dim})));
  EXPECT_GT(grad_hidden.index({off.logical_not()}).abs().sum().item<double>(), 0);

  torch::Tensor noisy = base + torch::randn(base.sizes()) * off.unsqueeze(2);
  torch::Tensor retargeted = torch::where(labels.mask.eq(0), torch::randint(vocab, {rows, n}, torch::kLong),
                                          labels.targets);
  auto [loss2, grad_hidden2, grad_head2, tokens2] = run(noisy, retargeted);
  EXPECT_TRUE(torch::equal(loss, loss2));
  EXPECT_TRUE(torch::equal(grad_hidden, grad_hidden2));
  EXPECT_TRUE(torch::equal(grad_head, grad_head2));
  EXPECT_EQ(tokens, tokens2);
}

// Property: in a packed batch (documents confined by cu_seqlens, positions restarting), each document's loss
// equals the loss of that document run through the model alone; padding tails count 0 tokens; the documents'
// losses add up to the batch's MaskedLossSum.
TEST(MaskedLossTest, PackedDocumentLossEqualsAlone) {
  std::shared_ptr<Model> model = TestModel(testing::Qwen3(), 5, torch::kDouble);
  const int64_t rows = 2, n = 48, vocab = 96;
  // Row 0: documents of 17 and 20 tokens, then 11 padding; row 1: documents of 30 and 18.
  const std::vector<int32_t> cu_seqlens = {0, 17, 37, 48, 78, 96};
  const std::vector<bool> is_padding = {false, false, true, false, false};
  torch::Tensor ids = RandomIds(rows, n, vocab, 31);
  torch::Tensor flat_positions = torch::zeros({rows * n}, torch::kLong);
  torch::Tensor flat_targets = torch::full({rows * n}, kIgnoreTarget, torch::kLong);
  torch::manual_seed(32);
  torch::Tensor flat_mask = torch::rand({rows * n}).lt(0.7).to(torch::kUInt8);
  torch::Tensor flat_ids = ids.reshape(-1);
  for (size_t d = 0; d + 1 < cu_seqlens.size(); ++d) {
    const int64_t a = cu_seqlens[d], b = cu_seqlens[d + 1];
    if (is_padding[d]) {
      flat_mask.slice(0, a, b).zero_();
      continue;
    }
    flat_positions.slice(0, a, b).copy_(torch::arange(b - a));
    flat_targets.slice(0, a, b - 1).copy_(flat_ids.slice(0, a + 1, b));  // next token; the last one has none
  }
  flat_mask.masked_fill_(flat_targets.eq(kIgnoreTarget), 0);
  torch::Tensor positions = flat_positions.reshape({rows, n});
  torch::Tensor targets = flat_targets.reshape({rows, n});
  torch::Tensor mask = flat_mask.reshape({rows, n});

  torch::NoGradGuard no_grad;
  torch::Tensor hidden = Hidden(*model, ids, positions, cu_seqlens);
  std::vector<DocumentLoss> docs = PerDocumentLoss(*model, hidden, targets, mask, cu_seqlens, 5);
  ASSERT_EQ(docs.size(), cu_seqlens.size() - 1);
  double total = 0;
  int64_t total_tokens = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    total += docs[d].sum;
    total_tokens += docs[d].tokens;
    if (is_padding[d]) {
      EXPECT_EQ(docs[d].tokens, 0);
      continue;
    }
    const int64_t a = cu_seqlens[d], b = cu_seqlens[d + 1];
    torch::Tensor alone_hidden =
        Hidden(*model, flat_ids.slice(0, a, b).unsqueeze(0), flat_positions.slice(0, a, b).unsqueeze(0));
    MaskedLoss alone = MaskedLossSum(*model, alone_hidden, flat_targets.slice(0, a, b).unsqueeze(0),
                                     flat_mask.slice(0, a, b).unsqueeze(0), 4);
    EXPECT_EQ(docs[d].tokens, alone.tokens) << "document " << d;
    EXPECT_NEAR(docs[d].sum, alone.sum.item<double>(), 1e-9) << "document " << d;
    std::printf("document %zu: %lld tokens, packed loss %.9f, alone %.9f\n", d, static_cast<long long>(docs[d].tokens),
                docs[d].sum, alone.sum.item<double>());
  }
  MaskedLoss batch = MaskedLossSum(*model, hidden, targets, mask);
  EXPECT_EQ(total_tokens, batch.tokens);
  EXPECT_NEAR(total, batch.sum.item<double>(), 1e-9);
}

}  // namespace
}  // namespace distill::trainer
