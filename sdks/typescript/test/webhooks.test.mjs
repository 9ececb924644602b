import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { TokClient, verifyWebhook, WebhookVerificationError } from "@tokapi/sdk";
import { env, fixturesSignedAt, webhookFixtures } from "./env.mjs";

test("webhooks signed by the server's code verify exactly when they should", () => {
  // The fixtures are Tok's own deliveries and messages signed by shared/webhooks, with
  // timestamps relative to when they were written.
  const now = () => fixturesSignedAt();
  const cases = webhookFixtures();
  assert.ok(cases.length >= 8);
  for (const c of cases) {
    const asHeaders = new Headers(c.headers);
    const upper = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toUpperCase(), v]));
    for (const headers of [c.headers, asHeaders, upper]) {
      if (c.valid) {
        const event = verifyWebhook(c.payload, headers, c.secret, { now });
        assert.equal(event.type, "webhook.ping", c.name);
        assert.equal(event.id, c.headers["webhook-id"], c.name);
        assert.deepEqual(verifyWebhook(Buffer.from(c.payload), headers, [c.secret], { now }), event, c.name);
      } else {
        assert.throws(() => verifyWebhook(c.payload, headers, c.secret, { now }), WebhookVerificationError, c.name);
      }
    }
  }
});

test("the receiver's clock decides expiry; a rotation accepts either secret", () => {
  const cases = webhookFixtures();
  const byName = (name) => cases.find((c) => c.name === name) ?? assert.fail(`no fixture ${name}`);
  const delivered = byName("delivered by Tok");
  const ts = Number(delivered.headers["webhook-timestamp"]) * 1000;
  assert.throws(() => verifyWebhook(delivered.payload, delivered.headers, delivered.secret, { now: () => new Date(ts + 301_000) }), /too old/);
  assert.throws(() => verifyWebhook(delivered.payload, delivered.headers, delivered.secret, { now: () => new Date(ts - 301_000) }), /future/);
  verifyWebhook(delivered.payload, delivered.headers, delivered.secret, { now: () => new Date(ts + 299_000) });
  // Signed before the rotation (old secret only): a receiver holding both secrets accepts
  // it, one holding only the new secret does not.
  const newSecret = byName("rotation, verified with the new secret").secret;
  const at = { now: () => new Date(ts) };
  verifyWebhook(delivered.payload, delivered.headers, [newSecret, delivered.secret], at);
  assert.throws(() => verifyWebhook(delivered.payload, delivered.headers, newSecret, at), /no webhook-signature matches/);
  assert.throws(() => verifyWebhook(delivered.payload, {}, delivered.secret), /missing/);
});

test("a real delivery from the stack verifies, before and after a secret rotation", async (t) => {
  const received = [];
  let notify;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(204).end();
      notify?.();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const next = async (n) => {
    const deadline = Date.now() + 30_000;
    while (received.length < n) {
      assert.ok(Date.now() < deadline, "no webhook delivery within 30 s");
      await new Promise((resolve) => { notify = resolve; setTimeout(resolve, 200); });
    }
    return received[n - 1];
  };
  const tok = new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_API_URL") });
  const hook = await tok.webhooks.create({ url: `http://127.0.0.1:${server.address().port}/hooks`, events: ["webhook.ping"] });
  t.after(() => tok.webhooks.delete(hook.id));
  assert.match(hook.secret, /^whsec_/);

  const ping = await tok.webhooks.test(hook.id);
  const first = await next(1);
  assert.equal(verifyWebhook(first.body, first.headers, hook.secret).id, ping.id);

  const rotated = await tok.webhooks.rotateSecret(hook.id);
  assert.notEqual(rotated.secret, hook.secret);
  const ping2 = await tok.webhooks.test(hook.id);
  const second = await next(2);
  assert.equal(second.headers["webhook-signature"].split(" ").length, 2);
  assert.equal(verifyWebhook(second.body, second.headers, rotated.secret).id, ping2.id);
  assert.equal(verifyWebhook(second.body, second.headers, hook.secret).id, ping2.id);
  assert.throws(() => verifyWebhook(second.body, second.headers, "whsec_" + Buffer.from("not the secret").toString("base64")),
    WebhookVerificationError);
  const deliveries = await tok.webhooks.deliveries(hook.id);
  assert.equal(deliveries.length, 2);
});
