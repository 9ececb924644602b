import assert from "node:assert/strict";
import { createServer } from "node:http";
import { beforeEach, test } from "node:test";
import { BankApiError, RateLimitError, ServiceUnavailableError, TokClient, TokConnectionError, TokTimeoutError } from "@tokapi/sdk";
import { env, envelope, faults, withoutLimits } from "./env.mjs";

const proxied = (options = {}) => new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_FAULT_URL"), ...options });

beforeEach(() => faults.reset());

test("a 429 is retried after Retry-After (free tier, burst 10)", async () => {
  const retries = [];
  const tok = new TokClient({ apiKey: env("TOK_FREE_API_KEY"), baseUrl: env("TOK_API_URL"), onRetry: (e) => retries.push(e) });
  for (let i = 0; i < 40 && retries.length === 0; i++) {
    const started = Date.now();
    const page = await tok.banks.list();
    if (retries.length > 0) {
      const [r] = retries;
      assert.equal(r.status, 429);
      assert.ok(r.retryAfter >= 1, `Retry-After ${r.retryAfter}`);
      assert.ok(r.delayMs >= r.retryAfter * 1000, `waited ${r.delayMs} ms for Retry-After ${r.retryAfter}`);
      assert.ok(Date.now() - started >= r.retryAfter * 1000);
      assert.ok(page.$response.retries >= 1);
      assert.equal(page.$response.status, 200);
    }
  }
  assert.ok(retries.length > 0, "40 calls on the free tier were never rate limited");
});

test("RATE_LIMITED without retries is a RateLimitError with the retry delay", async () => {
  const tok = new TokClient({ apiKey: env("TOK_FREE_API_KEY"), baseUrl: env("TOK_API_URL"), maxRetries: 0 });
  let err;
  for (let i = 0; i < 40 && !err; i++) {
    await tok.banks.list().catch((e) => { err = e; });
  }
  assert.ok(err instanceof RateLimitError, String(err));
  assert.equal(err.code, "RATE_LIMITED");
  assert.equal(err.status, 429);
  assert.ok(err.retryAfter >= 1);
  assert.match(err.requestId, /^req_/);
  assert.equal(err.response.rateLimit.limit, 60);
  assert.equal(err.response.rateLimit.remaining, 0);
});

test("a 502 on a GET is retried", async () => {
  await faults.add({ method: "GET", path: "/v1/banks", status: 502, body: envelope("BANK_API_ERROR"), headers: { "X-Tok-Error-Source": "bank" }, times: 1 });
  const retries = [];
  const page = await proxied({ onRetry: (e) => retries.push(e) }).banks.list();
  assert.ok(page.length > 0);
  assert.equal(retries[0].status, 502);
  const log = await faults.log();
  assert.equal(page.$response.retries, log.length - 1);
  assert.deepEqual(withoutLimits(log).map((r) => r.status), [502, 200]);
});

test("503 and 504 are retried with growing backoff", async () => {
  await faults.add({ method: "GET", path: "/v1/banks", status: 503, body: "upstream unavailable", headers: { "Content-Type": "text/plain" } });
  await faults.add({ method: "GET", path: "/v1/banks", status: 504, body: "upstream timed out", headers: { "Content-Type": "text/plain" } });
  const retries = [];
  const page = await proxied({ onRetry: (e) => retries.push(e) }).banks.list();
  assert.equal(page.$response.retries, 2);
  assert.deepEqual(retries.map((r) => r.status), [503, 504]);
  // Exponential with jitter: the first wait is 250–500 ms, the second 500–1000 ms.
  assert.ok(retries[0].delayMs >= 250 && retries[0].delayMs <= 500, String(retries[0].delayMs));
  assert.ok(retries[1].delayMs >= 500 && retries[1].delayMs <= 1000, String(retries[1].delayMs));
});

test("a 503 SERVICE_UNAVAILABLE is retried after its Retry-After", async () => {
  await faults.add({ method: "GET", path: "/v1/banks", status: 503, body: envelope("SERVICE_UNAVAILABLE"), headers: { "Retry-After": "1" } });
  const retries = [];
  const page = await proxied({ onRetry: (e) => retries.push(e) }).banks.list();
  assert.equal(page.$response.retries, 1);
  assert.equal(retries[0].retryAfter, 1);
  assert.ok(retries[0].delayMs >= 1000 && retries[0].error instanceof ServiceUnavailableError);
});

test("a connection reset on a GET is retried", async () => {
  await faults.add({ method: "GET", path: "/v1/banks", drop: true });
  const retries = [];
  const page = await proxied({ onRetry: (e) => retries.push(e) }).banks.list();
  assert.ok(page.length > 0);
  assert.equal(retries.length, 1);
  assert.equal(retries[0].status, null);
  assert.ok(retries[0].error instanceof TokConnectionError);
});

test("retries give up after maxRetries with the last error", async () => {
  await faults.add({ method: "GET", path: "/v1/banks", status: 502, body: envelope("BANK_API_ERROR"), headers: { "X-Tok-Error-Source": "bank" }, times: 5 });
  await assert.rejects(proxied({ maxRetries: 2 }).banks.list(), (e) => e instanceof BankApiError && e.status === 502);
  assert.equal((await faults.log()).length, 3);
});

test("a creating POST is retried with the same automatic Idempotency-Key and answered once", async () => {
  const tok = proxied();
  const before = await tok.consents.list({ limit: 500 });
  await faults.add({ method: "POST", path: "/v1/consents", status: 502, forward: true });
  const consent = await tok.consents.create({ bankId: "sandbox-rs", callbackUrl: env("TOK_CALLBACK_URL") });
  assert.equal(consent.status, "AWAITING_AUTHORIZATION");
  assert.equal(consent.$response.idempotentReplayed, true, "the retry should replay the first answer");
  // A 429 waited out on the way is one more retry with the same key; the proxy loses only an
  // answer Tok gave.
  const attempts = (await faults.log()).filter((r) => r.method === "POST");
  assert.equal(consent.$response.retries, attempts.length - 1);
  assert.deepEqual([...new Set(attempts.map((r) => r.idempotencyKey))], [attempts[0].idempotencyKey]);
  const posts = withoutLimits(attempts);
  assert.deepEqual(posts.map((r) => r.status), [502, 201]);
  assert.match(posts[0].idempotencyKey, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(posts[1].idempotencyKey, posts[0].idempotencyKey);
  const after = await tok.consents.list({ limit: 500 });
  assert.equal(after.length, before.length + 1, "the retried POST created a second consent");
  // Another create gets another key.
  await tok.consents.create({ bankId: "sandbox-rs", callbackUrl: env("TOK_CALLBACK_URL") });
  const keys = (await faults.log()).filter((r) => r.method === "POST").map((r) => r.idempotencyKey);
  assert.notEqual(keys.at(-1), keys[0]);
});

test("a caller's Idempotency-Key is sent as given", async () => {
  const key = `sdk-test-${Date.now()}`;
  const tok = proxied();
  const a = await tok.consents.create({ bankId: "sandbox-rs", callbackUrl: env("TOK_CALLBACK_URL") }, { idempotencyKey: key });
  const b = await tok.consents.create({ bankId: "sandbox-rs", callbackUrl: env("TOK_CALLBACK_URL") }, { idempotencyKey: key });
  assert.equal(b.id, a.id);
  assert.equal(b.$response.idempotentReplayed, true);
  const log = await faults.log();
  assert.equal(withoutLimits(log).length, 2);
  assert.deepEqual([...new Set(log.map((r) => r.idempotencyKey))], [key]);
});

test("a POST without an Idempotency-Key is not retried after a 502", async () => {
  await faults.add({ method: "POST", path: "/v1/webhooks", status: 502, body: envelope("BANK_API_ERROR") });
  await assert.rejects(proxied().request("POST", "/webhooks/whk_01JD5ZKX3W6Q8N9R2T4V7Y0B1D/test"), BankApiError);
  assert.equal((await faults.log()).length, 1);
});

test("timeouts are per attempt and configurable", async (t) => {
  let requests = 0;
  const server = createServer(() => { requests++; }); // never answers
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const tok = new TokClient({ apiKey: "tok_sandbox_x", baseUrl: `http://127.0.0.1:${server.address().port}/v1`, timeoutMs: 200, maxRetries: 1 });
  const started = Date.now();
  await assert.rejects(tok.banks.list(), TokTimeoutError);
  assert.equal(requests, 2);
  assert.ok(Date.now() - started >= 400);
  await assert.rejects(tok.banks.list({}, { timeoutMs: 50, maxRetries: 0 }), TokTimeoutError);
});
