// Deterministic mixed-language corpus for tokenizer parity and benchmarks.
// Usage: node make_corpus.js OUT.jsonl [SIZE_BYTES=2300000] [SEED=12345] [CHAOS_WEIGHT=6]
// (CHAOS_WEIGHT raises the share of random strings over tricky characters, for one-off differential runs.)
// Writes one JSON string per line (a document). Same arguments → byte-identical output.
"use strict";
const fs = require("fs");

function mulberry32(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const out = process.argv[2];
const target = parseInt(process.argv[3] || "2300000", 10);
const rnd = mulberry32(parseInt(process.argv[4] || "12345", 10));
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (n) => Math.floor(rnd() * n);

const english = ("the quick brown fox jumps over lazy dog reasoning model distillation teacher student token " +
  "however therefore we can't won't they're I'm you've she'll he'd It's THEY'RE WE'LL DON'T Shouldn't " +
  "international organization approximately infrastructure mathematics probability answer question " +
  "a an of to in is was for on with as by at from that this which be are have has not but or").split(" ");
const chinese = "我们的模型在推理任务上表现很好这是一个测试句子人工智能大语言模型蒸馏教师学生数学问题答案首先然后因此所以";
const japanese = "これは日本語のテキストですカタカナテストモデルの推論ひらがなとカタカナを混ぜますガギグゲゴパピプペポ";
const korean = "한국어 텍스트입니다 모델의 추론 능력을 시험합니다 안녕하세요 감사합니다";
const arabic = "هذا نص عربي لاختبار النموذج والتفكير المنطقي في الرياضيات";
const hindi = "यह हिंदी पाठ है मॉडल की तर्क क्षमता का परीक्षण";
const emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸", "🇯🇵", "🏳️‍🌈", "❤️", "🤖", "✨", "👩🏿‍💻", "🧑‍🔬", "🙏🏻", "1️⃣"];
const spaces = [" ", "  ", "\t", "\n", "\r\n", "\n\n", " \n", "\u00a0", "\u2003", "\u3000", "\u2009", "   \n  ", "\t\t", "\u202f", "\u0085", "\u2028", "\u180e", "\u200b", "\u000b", "\u000c"];
const specials = ["<|im_end|>", "<|im_start|>", "<think>", "</think>", "<|eot_id|>", "<|begin_of_text|>",
  "<|start_header_id|>", "<|end_header_id|>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
  "<|endoftext|>", "<tool_call>", "<|fim_prefix|>", "<|reserved_special_token_5|>", "<｜begin▁of▁sentence｜>"];
const combining = ["e\u0301", "a\u0300", "o\u0308", "n\u0303", "c\u0327", "A\u030a", "\u212b", "\u1100\u1161\u11a8",
  "\u0958", "\u2126", "e\u0301\u0323", "u\u0308\u0301", "\u0f73", "\u1e9b\u0323", "\uac00\u11a8", "é", "ñ", "ﬁ"];
const contractions = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'Ll", "'d", "'D", "'ſ", "'x"];

function words(n, cap) {
  let s = [];
  for (let i = 0; i < n; i++) {
    let w = pick(english);
    if (cap && rnd() < 0.1) w = w[0].toUpperCase() + w.slice(1);
    if (rnd() < 0.05) w += pick(contractions);
    s.push(w);
  }
  return s.join(" ");
}
function prose() {
  let p = [];
  const n = 1 + int(6);
  for (let i = 0; i < n; i++) p.push(words(5 + int(20), true) + pick([".", "!", "?", ",", ";", ":", "..."]));
  return p.join(" ");
}
function slice(str, n) { const a = Array.from(str); const s = int(a.length); let r = ""; for (let i = 0; i < n; i++) r += a[(s + i) % a.length]; return r; }
function cpp() {
  return `#include <vector>\nint f${int(100)}(const std::vector<int>& v) {\n  int s = 0;  // sum\n  for (size_t i = 0; i < v.size(); ++i) s += v[i] * ${int(1000)};\n\treturn s >= 0 ? s : -s;\n}\n`;
}
function python() {
  return `def solve(n: int) -> int:\n    """Return the ${pick(english)}."""\n    if n <= 1:\n        return n\n    total = sum(x ** 2 for x in range(${int(99999)}))  \n    return total % 1_000_000_007\n\n`;
}
function json() {
  return JSON.stringify({ id: int(1e9), name: words(2), tags: [pick(english), pick(english)], score: rnd(), nested: { ok: rnd() < 0.5, text: slice(chinese, 5) } }, null, rnd() < 0.5 ? 2 : undefined);
}
function latex() {
  return `Let $f(x) = \\frac{${int(100)}x^2 + \\sqrt{x}}{\\sum_{i=1}^{n} a_i}$ and \\[ \\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2} \\] so \\boxed{${int(10000)}}.`;
}
function digits() { let s = ""; const n = 1 + int(40); for (let i = 0; i < n; i++) s += String(int(10)); return pick(["", "x", " ", "$", "v", "٣٤", "１２３"]) + s + pick(["", ".", ",5", "th", " ", "²"]); }
function whitespace() { let s = ""; const n = 1 + int(6); for (let i = 0; i < n; i++) s += pick(spaces); return s; }
function special() { return pick(["", " ", "  ", "\n"]) + pick(specials) + pick(["", " ", "  ", "\n", "x"]); }
// Random strings over characters where the split patterns, NFC and added-token matching interact.
const chaosChars = ["a", "s", "S", "t", "e", "l", "L", "d", "'", "'", "’", "1", "٣", "²", "½", " ", " ", "  ", "\n", "\r", "\t",
  "\u000b", "\u000c", "\u0085", "\u00a0", "\u1680", "\u180e", "\u2000", "\u2028", "\u202f", "\u3000", "\u200b", ".", "!", "-",
  "$", "€", "_", "\\", "ſ", "K", "你", "好", "カ", "が", "か", "\u3099", "\u0301", "\u0323", "e\u0301", "\u0308", "\u1100", "\u1161",
  "\u11a8", "가", "😀", "\u{1F3FD}", "\u200d", "\ufe0f", "<|im_", "end|>", "<think", ">", "<｜", "｜>", "▁", "<|eot_id|>", "\u0000",
  "\ud7a3", "ﬁ", "Å", "\u212b", "\u0958", "ﷺ", "\u{10FFFF}", "\u{E0001}", "\u0600"];
function chaos() { let s = ""; const n = 1 + int(40); for (let i = 0; i < n; i++) s += pick(chaosChars); return s; }
const generators = [
  [chaos, parseFloat(process.argv[5] || "6")],
  [prose, 20], [() => slice(chinese, 5 + int(60)), 8], [() => slice(japanese, 5 + int(40)), 6], [() => slice(korean, 5 + int(40)), 4],
  [() => slice(arabic, 5 + int(40)), 3], [() => slice(hindi, 5 + int(40)), 3], [() => pick(emoji), 5], [cpp, 4], [python, 4],
  [json, 4], [latex, 4], [digits, 6], [whitespace, 10], [special, 5], [() => pick(combining), 5], [() => pick(contractions), 4],
  [() => words(1 + int(3)).toUpperCase(), 3], [() => pick(["!!!", "...", "?!", "--", "==>", "'", "\"", "(", ")", "{}", "[]", "#", "%", "&&", "||", "—", "«»", "。", "，", "、", "！"]), 6],
];
const totalWeight = generators.reduce((a, g) => a + g[1], 0);
function piece() { let r = rnd() * totalWeight; for (const [g, w] of generators) { if ((r -= w) < 0) return g(); } return ""; }
function doc() {
  const kind = rnd();
  let n;
  if (kind < 0.6) n = 1 + int(8); else if (kind < 0.93) n = 10 + int(60); else if (kind < 0.995) n = 100 + int(400); else n = 1000 + int(2000);
  let s = "";
  for (let i = 0; i < n; i++) { s += piece(); if (rnd() < 0.6) s += pick([" ", " ", "\n", "", "  "]); }
  return s;
}
const fixed = ["", " ", "  ", "\n", "a", " a", "Hello world", "<|im_end|>", " <|im_end|> ", "<think>\nfoo\n</think>\n\n answer",
  "   leading", "trailing   ", "x  \n  y", "1234567890", "e\u0301", "'S'LL'Re", "\u00a0\u00a0a", "\r\n\r\n", "ſ's", "😀😀😀"];
let docs = fixed.slice(), size = 0;
for (const d of docs) size += Buffer.byteLength(d);
while (size < target) { const d = doc(); docs.push(d); size += Buffer.byteLength(d); }
fs.writeFileSync(out, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
