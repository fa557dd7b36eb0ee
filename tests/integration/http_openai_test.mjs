// The official `openai` npm client against gemmad's HTTP socket, through an undici Agent whose
// connections go to the Unix socket: list models, a non-streamed and a streamed chat
// completion, json_schema replies that validate, forced tool calls whose arguments validate,
// a tool-result turn, a streamed tool call assembled from deltas, a thinking turn whose
// reasoning stays out of the content, an aborted stream whose cancel the daemon reports in
// /metrics, and an unknown model that the client raises as a 404 error.
//
//   node http_openai_test.mjs NPM_DIR HTTP_SOCKET [--media]  (NPM_DIR: scripts/fetch-npm-test-deps.sh)
// --media: the daemon's "tiny" model has an mmproj; image_url and input_audio parts are sent too.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [npmDir, socketPath] = process.argv.slice(2);
const modules = path.join(npmDir ?? "", "node_modules");
for (const pkg of ["openai", "undici"]) {
  if (!existsSync(path.join(modules, pkg, "package.json"))) {
    console.error(`http_openai_test: npm package '${pkg}' missing in ${modules}; ` +
                  "run scripts/fetch-npm-test-deps.sh");
    process.exit(1);
  }
}
const load = (pkg, file) => import(pathToFileURL(path.join(modules, pkg, file)).href);
const { default: OpenAI, NotFoundError } = await load("openai", "index.mjs");
const undici = await load("undici", "index.js");

const agent = new undici.Agent({ connect: { socketPath } });
const client = new OpenAI({
  apiKey: "unused",  // gemmad identifies callers by SO_PEERCRED, not keys
  baseURL: "http://gemmad/v1",
  fetch: undici.fetch,
  fetchOptions: { dispatcher: agent },
  defaultHeaders: { "X-Gemmad-App": "openai-node-test" },
  maxRetries: 0,
});

async function cancelledCount() {
  const res = await undici.request("http://gemmad/metrics", { dispatcher: agent });
  const text = await res.body.text();
  let n = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("gemmad_requests_total{") && line.includes('front_end="http"') &&
        line.includes('outcome="cancelled"')) {
      n += Number(line.split(" ").pop());
    }
  }
  return n;
}

const messages = [{ role: "user", content: "hello there" }];

const models = await client.models.list();
assert.deepEqual(models.data.map((m) => m.id), ["tiny"]);

const done = await client.chat.completions.create({
  model: "tiny", messages, max_tokens: 8, temperature: 0,
});
assert.equal(done.object, "chat.completion");
assert.equal(done.choices[0].message.role, "assistant");
assert.ok(["stop", "length"].includes(done.choices[0].finish_reason));
assert.ok(done.usage.prompt_tokens > 0);

const stream = await client.chat.completions.create({
  model: "tiny", messages, max_tokens: 8, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let streamed = "";
let usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length) streamed += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(streamed, done.choices[0].message.content, "stream and non-stream greedy differ");
assert.equal(usage.completion_tokens, done.usage.completion_tokens);

// Tools, JSON output and thinking (README "Tools, JSON output and thinking"). Random weights
// never call a tool on their own: calls are forced with tool_choice, JSON comes from
// response_format, and a thinking budget closes the thought.

// A validator for the schema subset these tests use (type, properties, required,
// additionalProperties false, enum, items, maxItems, maxLength): no npm dependency.
function validate(value, schema, at = "$") {
  const fail = (why) => assert.fail(`${at}: ${why} (${JSON.stringify(value)})`);
  const types = { object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
                  array: Array.isArray, string: (v) => typeof v === "string",
                  integer: Number.isInteger, number: (v) => typeof v === "number",
                  boolean: (v) => typeof v === "boolean", null: (v) => v === null };
  if (schema.type && !types[schema.type](value)) fail(`not of type ${schema.type}`);
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    fail(`not one of ${JSON.stringify(schema.enum)}`);
  }
  if (schema.maxLength !== undefined && [...value].length > schema.maxLength) fail("too long");
  if (schema.type === "array") {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) fail("too many items");
    value.forEach((v, i) => validate(v, schema.items ?? {}, `${at}[${i}]`));
  }
  if (schema.type === "object") {
    for (const name of schema.required ?? []) if (!(name in value)) fail(`lacks '${name}'`);
    for (const [name, v] of Object.entries(value)) {
      const sub = schema.properties?.[name];
      if (!sub && schema.additionalProperties === false) fail(`has extra '${name}'`);
      if (sub) validate(v, sub, `${at}.${name}`);
    }
  }
}

const personSchema = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer" },
    tags: { type: "array", items: { enum: ["red", "green", "blue"] }, maxItems: 3 },
  },
  required: ["name", "age"],
  additionalProperties: false,
};
for (const seed of [1, 2, 3]) {
  const json = await client.chat.completions.create({
    model: "tiny", messages: [{ role: "user", content: "Describe a person as JSON." }],
    max_tokens: 200, seed,
    response_format: { type: "json_schema",
                       json_schema: { name: "person", strict: true, schema: personSchema } },
  });
  assert.equal(json.choices[0].finish_reason, "stop", "the value must be complete");
  validate(JSON.parse(json.choices[0].message.content), personSchema);
}
const anyJson = await client.chat.completions.create({
  model: "tiny", messages: [{ role: "user", content: "Some JSON please." }], max_tokens: 200,
  seed: 4, response_format: { type: "json_object" },
});
if (anyJson.choices[0].finish_reason === "stop") JSON.parse(anyJson.choices[0].message.content);

const weatherSchema = {
  type: "object",
  properties: { city: { type: "string", maxLength: 12 }, days: { type: "integer" } },
  required: ["city", "days"],
  additionalProperties: false,
};
const tools = [
  { type: "function",
    function: { name: "get_weather", description: "The weather in a city.",
                parameters: weatherSchema } },
  { type: "function", function: { name: "get_time", description: "The time now." } },
];
const weatherQuestion = { role: "user", content: "Weather in Paris for 2 days?" };
const forced = await client.chat.completions.create({
  model: "tiny", messages: [weatherQuestion], tools, max_tokens: 120, seed: 7,
  tool_choice: { type: "function", function: { name: "get_weather" } },
});
assert.equal(forced.choices[0].finish_reason, "tool_calls", JSON.stringify(forced));
const call = forced.choices[0].message.tool_calls?.[0];
assert.equal(forced.choices[0].message.tool_calls.length, 1);
assert.equal(call.type, "function");
assert.equal(call.function.name, "get_weather");
assert.ok(call.id.startsWith("call_"), call.id);
assert.equal(typeof call.function.arguments, "string");
validate(JSON.parse(call.function.arguments), weatherSchema);
assert.ok(!forced.choices[0].message.content, "a call is not answer text");

const required = await client.chat.completions.create({
  model: "tiny", messages: [weatherQuestion], tools, max_tokens: 120, seed: 8,
  tool_choice: "required",
});
assert.equal(required.choices[0].finish_reason, "tool_calls", JSON.stringify(required));
const rcall = required.choices[0].message.tool_calls[0];
assert.ok(["get_weather", "get_time"].includes(rcall.function.name));
const rargs = JSON.parse(rcall.function.arguments);
if (rcall.function.name === "get_weather") validate(rargs, weatherSchema);

// The tool's result goes back as a role "tool" message; the conversation continues.
const continued = await client.chat.completions.create({
  model: "tiny", tools, max_tokens: 8, seed: 7,
  messages: [weatherQuestion, forced.choices[0].message,
             { role: "tool", tool_call_id: call.id, content: '{"temp_c": 15, "sky": "clear"}' }],
});
assert.ok(["stop", "length", "tool_calls"].includes(continued.choices[0].finish_reason),
          JSON.stringify(continued));
assert.ok(continued.usage.prompt_tokens > forced.usage.prompt_tokens);

// A streamed call arrives as delta.tool_calls (id and name, then arguments), assembled here
// as a client does; it equals the same request unstreamed.
const callStream = await client.chat.completions.create({
  model: "tiny", messages: [weatherQuestion], tools, max_tokens: 120, seed: 7, stream: true,
  tool_choice: { type: "function", function: { name: "get_weather" } },
});
const assembled = [];
let streamReason = null;
for await (const chunk of callStream) {
  const choice = chunk.choices[0];
  if (!choice) continue;
  for (const d of choice.delta.tool_calls ?? []) {
    assembled[d.index] ??= { id: "", name: "", arguments: "" };
    if (d.id) assembled[d.index].id = d.id;
    if (d.function?.name) assembled[d.index].name += d.function.name;
    if (d.function?.arguments) assembled[d.index].arguments += d.function.arguments;
  }
  assert.ok(!choice.delta.content, "call text must not stream as content");
  if (choice.finish_reason) streamReason = choice.finish_reason;
}
assert.equal(streamReason, "tool_calls");
assert.equal(assembled.length, 1);
assert.equal(assembled[0].name, "get_weather");
assert.ok(assembled[0].id.startsWith("call_"));
assert.equal(assembled[0].arguments, call.function.arguments, "greedy-equal seeds differ");
validate(JSON.parse(assembled[0].arguments), weatherSchema);

// Thinking (llama-server's chat_template_kwargs): the thought is reasoning_content, never
// content; streamed, the reasoning deltas come first and equal the unstreamed reply.
const thinkRequest = {
  model: "tiny", messages: [{ role: "user", content: "Think, then answer." }], max_tokens: 30,
  temperature: 0, chat_template_kwargs: { enable_thinking: true }, thinking_budget: 8,
};
const thought = await client.chat.completions.create(thinkRequest);
const thoughtMsg = thought.choices[0].message;
assert.ok(thoughtMsg.reasoning_content?.length > 0, JSON.stringify(thought));
for (const marker of ["<|channel>", "<channel|>", "thought\n"]) {
  assert.ok(!(thoughtMsg.content ?? "").includes(marker), `content holds ${marker}`);
}
const thinkStream = await client.chat.completions.create({ ...thinkRequest, stream: true });
let reasoning = "";
let answer = "";
for await (const chunk of thinkStream) {
  const delta = chunk.choices[0]?.delta ?? {};
  if (delta.reasoning_content) {
    assert.equal(answer, "", "a reasoning delta after the answer began");
    reasoning += delta.reasoning_content;
  }
  answer += delta.content ?? "";
}
assert.equal(reasoning, thoughtMsg.reasoning_content);
assert.equal(answer, thoughtMsg.content ?? "");
const noThought = await client.chat.completions.create({ ...thinkRequest,
                                                         chat_template_kwargs: undefined,
                                                         thinking_budget: undefined });
assert.equal(noThought.choices[0].message.reasoning_content, undefined, "thinking is off by default");

// stop strings (up to 4) and the errors the client raises as 400s naming the field.
const stopped = await client.chat.completions.create({
  model: "tiny", messages, max_tokens: 8, temperature: 0, stop: ["xyz", "zz", "q", "\n\n"],
});
assert.ok(["stop", "length"].includes(stopped.choices[0].finish_reason));
await assert.rejects(
  client.chat.completions.create({ model: "tiny", messages, tools, tool_choice: "always" }),
  (e) => e.status === 400 && e.message.includes("tool_choice"),
);
await assert.rejects(
  client.chat.completions.create({
    model: "tiny", messages,
    response_format: { type: "json_schema",
                       json_schema: { name: "d", schema: { type: "string", format: "date" } } },
  }),
  (e) => e.status === 400 && e.message.includes("'format'"),
);

// An aborted stream: a long generation (ignore nothing: 4000 tokens at most) stopped after
// its first chunk; the daemon must cancel the sequence and count it.
const before = await cancelledCount();
const long = await client.chat.completions.create({
  model: "tiny", messages: [{ role: "user", content: "tell a very long story" }],
  max_tokens: 4000, temperature: 1, seed: 1, stream: true,
});
for await (const chunk of long) {
  void chunk;
  long.controller.abort();
  break;
}
const deadline = Date.now() + 60_000;
while ((await cancelledCount()) <= before) {
  assert.ok(Date.now() < deadline, "the daemon did not report the aborted stream as cancelled");
  await new Promise((r) => setTimeout(r, 50));
}

await assert.rejects(
  client.chat.completions.create({ model: "no-such-model", messages }),
  (e) => e instanceof NotFoundError && e.status === 404 && typeof e.message === "string",
);

// Images and audio (issue 11), when the daemon's model has its encoders (--media): an
// image_url data: URL and an input_audio part reach the encoders through the official client.
if (process.argv[4] === "--media") {
  const { readFileSync } = await import("node:fs");
  const here = path.dirname(new URL(import.meta.url).pathname);
  const png = readFileSync(path.join(here, "..", "fuzz", "seeds", "png", "rgb8.png"));
  // One second of a 440 Hz tone: a mono 16-bit 16 kHz WAV.
  const n = 16000;
  const wav = Buffer.alloc(44 + 2 * n);
  wav.write("RIFF", 0);
  wav.writeUInt32LE(36 + 2 * n, 4);
  wav.write("WAVEfmt ", 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(16000, 24);
  wav.writeUInt32LE(32000, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write("data", 36);
  wav.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; ++i) {
    wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), 44 + 2 * i);
  }
  const ask = (content) => client.chat.completions.create({
    model: "tiny", messages: [{ role: "user", content }], max_tokens: 8, temperature: 0,
  });
  const text = await ask([{ type: "text", text: "Describe it." }]);
  const withImage = [
    { type: "text", text: "Describe it." },
    { type: "image_url", image_url: { url: `data:image/png;base64,${png.toString("base64")}` } },
  ];
  const a = await ask(withImage);
  const b = await ask(withImage);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content, "greedy image turns differ");
  assert.ok(a.usage.prompt_tokens > text.usage.prompt_tokens + 200,
            `the image's soft tokens are not in the prompt (${a.usage.prompt_tokens})`);
  const listen = await ask([{ type: "text", text: "Listen." }]);
  const heard = await ask([
    { type: "text", text: "Listen." },
    { type: "input_audio", input_audio: { data: wav.toString("base64"), format: "wav" } },
  ]);
  assert.equal(heard.usage.prompt_tokens, listen.usage.prompt_tokens + 25 + 2, "1 s = 25 soft tokens");
  await assert.rejects(
    ask([{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }]),
    (e) => e.status === 400,
  );
}

await agent.close();
console.log("http_openai_test: ok");
