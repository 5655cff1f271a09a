// Loads a GGUF with llama.cpp (node-llama-cpp, CPU build) and reports what llama.cpp makes of it, for the export
// tests and the logits parity test.
// Usage: node llama_cpp_check.js IN.json OUT.json
// IN  = {path, texts?: [string], special_tokens?: bool (default true), eval_ids?: [int], top_k?: int (default 8),
//        probs_out?: "<file>" (all per-position probability vectors as little-endian f32, position-major),
//        context_size?: int (default 256)}
// OUT = {n_vocab, bos, eos, eot, add_bos, add_eos, vocabulary_type, chat_template,
//        tokens: [[id…] per text] (llama.cpp's tokenize(text, special_tokens), without BOS),
//        eval: [{top: [[id, p]…] (top_k, descending), sum, finite, max_prob}] one per eval id}
"use strict";
const fs = require("fs");
const path = require("path");
const url = require("url");

// Whether (id, p) comes before entry [id, p] in the top-k order: higher probability first, then lower id.
function ranksBefore(id, p, entry) {
  return p > entry[1] || (p === entry[1] && id < entry[0]);
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  // ESM ignores NODE_PATH: import the package's entry point from there by file URL.
  const modules = (process.env.NODE_PATH || path.join(__dirname, "../../tools/npm/node_modules"))
    .split(path.delimiter)[0];
  const { getLlama } = await import(url.pathToFileURL(path.join(modules, "node-llama-cpp/dist/index.js")).href);
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  const model = await llama.loadModel({ modelPath: request.path, gpuLayers: 0 });
  const special = request.special_tokens ?? true;
  const out = {
    n_vocab: model.fileInsights?.vocabularySize ?? null,
    bos: model.tokens.bos,
    eos: model.tokens.eos,
    eot: model.tokens.eot,
    add_bos: model.tokens.shouldPrependBosToken,
    add_eos: model.tokens.shouldAppendEosToken,
    vocabulary_type: model.vocabularyType,
    chat_template: model.fileInfo.metadata?.tokenizer?.chat_template ?? null,
    tokens: (request.texts ?? []).map((t) => Array.from(model.tokenize(t, special))),
    eval: [],
  };
  const ids = request.eval_ids ?? [];
  if (ids.length > 0) {
    const context = await model.createContext({ contextSize: request.context_size ?? 256, threads: 2 });
    const sequence = context.getSequence();
    const results = await sequence.controlledEvaluate(ids.map((t) => [t, { generateNext: { probabilities: true } }]));
    const topK = request.top_k ?? 8;
    let n_vocab = 0;
    const vectors = [];
    for (const result of results) {
      const probs = result?.next?.probabilities;
      if (!probs) throw new Error("no probabilities returned for a position");
      let sum = 0, finite = true, maxProb = 0, count = 0;
      const top = [];  // the topK best so far, descending by p then ascending by id (a full sort costs ~40 ms a row)
      for (const [id, p] of probs) {
        if (!Number.isFinite(p)) finite = false;
        sum += p;
        if (p > maxProb) maxProb = p;
        ++count;
        if (id + 1 > n_vocab) n_vocab = id + 1;
        if (top.length === topK && !ranksBefore(id, p, top[topK - 1])) continue;
        let i = Math.min(top.length, topK - 1);
        while (i > 0 && ranksBefore(id, p, top[i - 1])) --i;
        top.splice(i, 0, [id, p]);
        if (top.length > topK) top.pop();
      }
      out.eval.push({ top, sum, finite, max_prob: maxProb, count });
      if (request.probs_out) vectors.push(probs);
    }
    if (request.probs_out) {
      const width = out.n_vocab ?? n_vocab;
      const buffer = new Float32Array(width * vectors.length);
      vectors.forEach((probs, i) => {
        for (const [id, p] of probs) buffer[i * width + id] = p;
      });
      fs.writeFileSync(request.probs_out, Buffer.from(buffer.buffer));
      out.probs_width = width;
    }
    await context.dispose();
  }
  await model.dispose();
  fs.writeFileSync(process.argv[3], JSON.stringify(out));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
