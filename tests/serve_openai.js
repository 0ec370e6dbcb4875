// serve_openai.js URL KEY DIM: the official OpenAI Node client against
// `semsearch serve` (tests/serve.sh runs it when node finds the `openai`
// package, e.g. NODE_PATH=DIR/node_modules after `npm install --prefix DIR openai`).
const OpenAI = require('openai');
const assert = require('assert');
(async () => {
  const c = new OpenAI({ apiKey: process.argv[3], baseURL: process.argv[2], maxRetries: 0 });
  // the client asks for base64 by default and decodes it
  const r = await c.embeddings.create({ model: 'en-base', input: ['a dog', 'a cat playing'] });
  assert.strictEqual(r.data.length, 2);
  assert.strictEqual(r.data[1].index, 1);
  assert.strictEqual(r.data[0].embedding.length, Number(process.argv[4]));
  const f = await c.embeddings.create({ model: 'en-base', input: 'a dog', encoding_format: 'float' });
  // JSON floats read back as the same float32 as the base64 bytes
  assert.deepStrictEqual(f.data[0].embedding.map(Math.fround), Array.from(r.data[0].embedding));
  assert.ok(r.usage.prompt_tokens > 0);
  const m = await c.models.list();
  assert.strictEqual(m.data[0].id, 'en-base.gguf');
  let status = 0;
  try {
    await new OpenAI({ apiKey: 'wrong', baseURL: process.argv[2], maxRetries: 0 }).embeddings.create({ model: 'x', input: 'a' });
  } catch (e) { status = e.status; }
  assert.strictEqual(status, 401);
  status = 0;
  try { await c.embeddings.create({ model: 'x', input: [] }); } catch (e) { status = e.status; }
  assert.strictEqual(status, 400);
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
