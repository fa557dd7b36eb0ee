// The official `openai` npm client against gemmad's HTTP socket, through an undici Agent whose
// connections go to the Unix socket: list models, a non-streamed and a streamed chat
// completion, an aborted stream whose cancel the daemon reports in /metrics, and an unknown
// model that the client raises as a 404 error.
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
