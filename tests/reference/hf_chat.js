// Reference for chat rendering + tokenization: renders each context with @huggingface/jinja and encodes the text
// with HF tokenizers (add_special_tokens=false, as apply_chat_template(tokenize=True) does).
// Usage: node hf_chat.js request.json out.json
//   request: {"tokenizer": path, "template": jinja source, "contexts": [context…], "texts": [extra text…],
//             "add_special_tokens": bool (for "texts"; default false)}
//   out:     {"rendered": [{"text", "ids"}…], "encoded": [[ids]…]}
const fs = require("fs");
const { Template } = require("@huggingface/jinja");
const { Tokenizer } = require("tokenizers");

async function main() {
  const [requestPath, outPath] = process.argv.slice(2);
  const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));
  const tokenizer = Tokenizer.fromFile(request.tokenizer);
  const template = request.template ? new Template(request.template) : null;
  const encode = async (text, addSpecialTokens = false) =>
    (await tokenizer.encode(text, null, { addSpecialTokens })).getIds();
  const rendered = [];
  for (const context of request.contexts || []) {
    const text = template.render(context);
    rendered.push({ text, ids: await encode(text) });
  }
  const encoded = [];
  for (const text of request.texts || []) encoded.push(await encode(text, !!request.add_special_tokens));
  fs.writeFileSync(outPath, JSON.stringify({ rendered, encoded }));
}
main().catch((e) => { console.error(e); process.exit(1); });
