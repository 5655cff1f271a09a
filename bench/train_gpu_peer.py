#!/usr/bin/env python3
"""The Hugging Face peer of bench_train_gpu (bench/train_gpu.cc).

Loads the bench's random model with transformers (AutoModelForCausalLM, sdpa attention, fp32 weights) and trains
it the way an HF Trainer run with bf16=True does, on the bench's packed row:

  forward with input_ids, position_ids restarting per document (transformers confines attention to each
  document from them when no attention_mask is given) and labels (-100 outside the loss), under
  torch.autocast(bfloat16); loss.backward(); clip_grad_norm_; torch.optim.AdamW with no decay on biases and
  norms; optionally gradient_checkpointing_enable() (non-reentrant, as TRL's SFT configs set it).

  --model DIR  --batch FILE  --out FILE  [--recompute]

Writes {"losses", "step_seconds", "peak_mb", "fp32_loss"} to --out (fp32_loss: the batch's loss before training
without autocast; null with --recompute); peak_mb is torch.cuda.max_memory_allocated after the
model and optimizer exist (the same point where our side resets its peak), in MB.
"""

import argparse
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--recompute", action="store_true")
    args = parser.parse_args()

    with open(args.batch) as f:
        batch = json.load(f)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="sdpa")
    model.to(device)
    model.config.use_cache = False
    model.train()
    if args.recompute:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "norm" in name or name.endswith(".bias") else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": batch["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=batch["lr"], betas=tuple(batch["betas"]), eps=batch["eps"])

    def tensor(key):
        return torch.tensor([batch[key]], dtype=torch.long, device=device)

    input_ids, position_ids, labels = tensor("input_ids"), tensor("position_ids"), tensor("labels")
    params = [p for p in model.parameters()]
    fp32_loss = None
    if not args.recompute:  # the batch's loss before training, fp32 throughout
        with torch.no_grad():
            fp32_loss = model(input_ids=input_ids, position_ids=position_ids, labels=labels, use_cache=False).loss.item()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    losses, seconds = [], []
    for _ in range(batch["steps"]):
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            out = model(input_ids=input_ids, position_ids=position_ids, labels=labels, use_cache=False)
        loss = out.loss
        losses.append(loss.item())
        loss.backward()
        del out, loss
        torch.nn.utils.clip_grad_norm_(params, batch["max_grad_norm"])
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    peak_mb = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else 0.0
    result = {"losses": losses, "step_seconds": seconds, "peak_mb": peak_mb, "fp32_loss": fp32_loss,
              "transformers_attention": model.config._attn_implementation}
    with open(args.out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
