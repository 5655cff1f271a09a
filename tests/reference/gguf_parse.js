// Reads a GGUF file with @huggingface/gguf (an independent parser) for gguf_parse_reference_test.
// Usage: node gguf_parse.js IN.json OUT.json, IN = {"path": "<file.gguf>"}.
// OUT = {version, tensor_count, kv_count, tensorDataOffset, parameterCount,
//        kvs: {key: {type, subType?, value}}, tensorInfos: [{name, n_dims, shape, dtype, offset}]}.
// BigInts (u64/i64 values, counts, shapes, offsets) are written as decimal strings so no precision is lost.
"use strict";
const fs = require("fs");
const { gguf } = require("@huggingface/gguf");

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const parsed = await gguf(request.path, { allowLocalFile: true, typedMetadata: true, computeParametersCount: true });
  const kvs = {};
  for (const [key, entry] of Object.entries(parsed.typedMetadata)) {
    if (key === "version" || key === "tensor_count" || key === "kv_count") continue;
    kvs[key] = entry;
  }
  const out = {
    version: parsed.metadata.version,
    tensor_count: parsed.metadata.tensor_count,
    kv_count: parsed.metadata.kv_count,
    tensorDataOffset: parsed.tensorDataOffset,
    parameterCount: parsed.parameterCount,
    kvs,
    tensorInfos: parsed.tensorInfos,
  };
  fs.writeFileSync(process.argv[3], JSON.stringify(out, (k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
