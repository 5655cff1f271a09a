// The GGUF backend of `distill eval`: samples completions with llama.cpp (node-llama-cpp, CPU build) from
// prompts our C++ side has already rendered and tokenized, so both backends see the same prompt ids.
// Usage: node llama_cpp_generate.js MODEL.gguf REQUESTS.jsonl RESULTS.jsonl
// A request line: {key, prompt_ids: [int], temperature, top_p, seed, max_new_tokens, stop_ids: [int], context_size,
//                  kv_cache_type: "F16" (llama.cpp's default) | "F32"}
// A result line:  {key, tokens: [int] (the stop token included when one ended the sample), finish_reason: "stop"|"length"}
// temperature 0 is greedy (argmax). Results are appended and flushed one line per sample. A rerun keeps the complete
// result lines already there whose key is requested (the caller removes the results when the requests changed),
// drops a line cut short by a crash, and generates only the rest.
"use strict";
const fs = require("fs");
const path = require("path");
const url = require("url");

async function main() {
  const [modelPath, requestsPath, resultsPath] = process.argv.slice(2);
  if (!resultsPath) throw new Error("usage: node llama_cpp_generate.js MODEL.gguf REQUESTS.jsonl RESULTS.jsonl");
  const requests = fs.readFileSync(requestsPath, "utf8").split("\n").filter((l) => l.trim() !== "")
    .map((l, i) => { try { return JSON.parse(l); } catch (e) { throw new Error(`${requestsPath}:${i + 1}: ${e.message}`); } });
  // ESM ignores NODE_PATH: import the package's entry point from there by file URL.
  const modules = (process.env.NODE_PATH || path.join(__dirname, "../npm/node_modules")).split(path.delimiter)[0];
  const { getLlama } = await import(url.pathToFileURL(path.join(modules, "node-llama-cpp/dist/index.js")).href);
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  // A sample ends at the model's training context (the GGUF's context_length), as the torch backend's does.
  const trainContext = model.trainContextSize;
  const contextSize = Math.min(trainContext, Math.max(64,
    ...requests.map((r) => r.context_size ?? (r.prompt_ids.length + r.max_new_tokens + 1))));
  // One thread by default: one sequence's matrices are small, and a second thread's synchronisation made a tiny
  // model's decoding 10x slower here (DISTILL_LLAMA_THREADS overrides for big models).
  const kvType = requests.length > 0 && requests[0].kv_cache_type ? requests[0].kv_cache_type : "F16";
  const context = await model.createContext({ contextSize, threads: Number(process.env.DISTILL_LLAMA_THREADS || 1),
                                              experimentalKvCacheKeyType: kvType, experimentalKvCacheValueType: kvType });
  const sequence = context.getSequence();
  const done = keepFinishedResults(resultsPath, requests);
  if (done.size > 0)
    console.error(`llama.cpp: ${done.size} of ${requests.length} samples already in ${resultsPath}, resuming`);
  const out = fs.openSync(resultsPath, "a");
  for (const request of requests) {
    if (done.has(request.key)) continue;
    await sequence.clearHistory();
    const stops = new Set(request.stop_ids || []);
    const greedy = !(request.temperature > 0);
    const options = greedy ? { temperature: 0, yieldEogToken: true }
      : { temperature: request.temperature, topP: request.top_p ?? 1, topK: 0, minP: 0, seed: request.seed ?? 0,
          yieldEogToken: true };
    const tokens = [];
    let finish = "length";
    const maxNew = Math.min(request.max_new_tokens, contextSize - request.prompt_ids.length);
    if (maxNew > 0) {
      for await (const token of sequence.evaluate(request.prompt_ids, options)) {
        tokens.push(token);
        if (stops.has(token) || model.isEogToken(token)) { finish = "stop"; break; }
        if (tokens.length >= maxNew) break;
      }
    }
    fs.writeSync(out, JSON.stringify({ key: request.key, tokens, finish_reason: finish }) + "\n");
  }
  fs.closeSync(out);
  await context.dispose();
  await model.dispose();
}

// Rewrites RESULTS with its complete, parseable lines for requested keys (first of each), and returns those keys.
function keepFinishedResults(resultsPath, requests) {
  const done = new Set();
  if (!fs.existsSync(resultsPath)) return done;
  const wanted = new Set(requests.map((r) => r.key));
  const text = fs.readFileSync(resultsPath, "utf8");
  const complete = text.endsWith("\n") ? text : text.slice(0, text.lastIndexOf("\n") + 1);  // a crash cuts the last
  let kept = "";
  for (const line of complete.split("\n")) {
    if (line.trim() === "") continue;
    let result;
    try { result = JSON.parse(line); } catch (e) { continue; }
    if (!wanted.has(result.key) || done.has(result.key) || !Array.isArray(result.tokens)) continue;
    done.add(result.key);
    kept += line + "\n";
  }
  const temp = resultsPath + ".tmp";
  fs.writeFileSync(temp, kept);
  fs.renameSync(temp, resultsPath);
  return done;
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
