// Times HF tokenizers on a corpus for `distill bench tokenize`.
// Usage: RAYON_NUM_THREADS=1 node hf_bench.js TOKENIZER_JSON CORPUS_JSONL IDS_OUT
// Encodes every document with encodeBatch (addSpecialTokens=false), timing only the encoding; prints one JSON line
// {"seconds": s, "bytes": n, "tokens": t} and writes the ids (one line per document) to IDS_OUT.
"use strict";
const fs = require("fs");
const { Tokenizer } = require("tokenizers");

async function main() {
  const [tokPath, corpusPath, idsOut] = process.argv.slice(2);
  const t = Tokenizer.fromFile(tokPath);
  const docs = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
  await t.encodeBatch(docs.slice(0, 50), { addSpecialTokens: false });  // warm-up
  const t0 = process.hrtime.bigint();
  const encs = await t.encodeBatch(docs, { addSpecialTokens: false });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const ids = encs.map((e) => e.getIds());
  const out = fs.createWriteStream(idsOut);
  for (const a of ids) out.write(a.join(" ") + "\n");
  await new Promise((r) => out.end(r));
  const bytes = docs.reduce((a, d) => a + Buffer.byteLength(d), 0);
  console.log(JSON.stringify({ seconds, bytes, tokens: ids.reduce((a, x) => a + x.length, 0) }));
}
main().catch((e) => { console.error(e); process.exit(1); });
