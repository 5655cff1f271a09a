// Greedy generation with llama.cpp (node-llama-cpp, CPU build) from a GGUF, for the export parity test.
// Usage: node llama_cpp_generate.js IN.json OUT.json
// IN  = {path, prompt_ids: [int], max_new_tokens: int, context_size?: int (default 256)}
// OUT = {tokens: [id…]} (temperature 0: argmax at every step; stops only at max_new_tokens, eos included)
"use strict";
const fs = require("fs");
const path = require("path");
const url = require("url");

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  // ESM ignores NODE_PATH: import the package's entry point from there by file URL.
  const modules = (process.env.NODE_PATH || path.join(__dirname, "../../tools/npm/node_modules")).split(path.delimiter)[0];
  const { getLlama } = await import(url.pathToFileURL(path.join(modules, "node-llama-cpp/dist/index.js")).href);
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  const model = await llama.loadModel({ modelPath: request.path, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: request.context_size ?? 256, threads: 2 });
  const sequence = context.getSequence();
  const tokens = [];
  for await (const token of sequence.evaluate(request.prompt_ids, { temperature: 0 })) {
    tokens.push(token);
    if (tokens.length >= request.max_new_tokens) break;
  }
  await context.dispose();
  await model.dispose();
  fs.writeFileSync(process.argv[3], JSON.stringify({ tokens }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
