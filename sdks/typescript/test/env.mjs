// What the Go driver (sdks/sdktest) sets up in the local stack for these tests. A missing
// variable fails the tests: they never skip.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";

export function env(name) {
  const v = process.env[name];
  assert.ok(v, `${name} is not set: run these tests through sdks/sdktest (make test)`);
  return v;
}

/** The fault proxy's control API (see sdks/sdktest/faults.go). */
export const faults = {
  async reset() {
    const r = await fetch(env("TOK_FAULT_CONTROL"), { method: "DELETE" });
    assert.equal(r.status, 204);
  },
  async add(fault) {
    const r = await fetch(env("TOK_FAULT_CONTROL"), { method: "POST", body: JSON.stringify(fault) });
    assert.equal(r.status, 204, await r.text());
  },
  async log() {
    const r = await fetch(env("TOK_FAULT_CONTROL"));
    return r.json();
  },
};

/**
 * The log without the stack's 429s: a request that reaches Tok may meet a burst that the
 * tests before it spent, and the SDK waits that out like any 429 (tested on its own).
 */
export function withoutLimits(log) {
  return log.filter((r) => r.status !== 429);
}

/** A Tok error envelope for an injected answer. */
export function envelope(code) {
  return JSON.stringify({ error: { code, message: "injected by the test", requestId: "req_01J0000000000000000000FAKE" } });
}

export function webhookFixtures() {
  return JSON.parse(readFileSync(env("TOK_WEBHOOK_FIXTURES"), "utf8"));
}

/** When the fixtures were signed: their timestamps are relative to it. */
export function fixturesSignedAt() {
  return statSync(env("TOK_WEBHOOK_FIXTURES")).mtime;
}

export const amountPattern = /^-?[0-9]+\.[0-9]{4}$/;

/**
 * The customer's browser (sdks/sdktest/psu.go): walks a redirectUrl (Tok's hosted pages when
 * it is one, the sandbox bank's SCA, Tok's callback) and returns `{pages, callback}`.
 */
export async function psu(walk) {
  const r = await fetch(env("TOK_PSU_URL"), { method: "POST", body: JSON.stringify(walk) });
  const body = await r.json();
  assert.equal(r.status, 200, body.error);
  return { ...body, query: new URL(body.callback).searchParams };
}

/** The spec's operations (sdks/sdktest/operations.go): [{operationId, method, path, apiKey}]. */
export function specOperations() {
  return JSON.parse(readFileSync(env("TOK_SPEC_OPERATIONS"), "utf8"));
}
