import assert from "node:assert/strict";
import { test } from "node:test";
import * as sdk from "@tokapi/sdk";
import { env } from "./env.mjs";

const { TokClient, TokError } = sdk;
const tok = new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_API_URL") });
// The Free organisation holds the revoked and the expired connection.
const ended = new TokClient({ apiKey: env("TOK_FREE_API_KEY"), baseUrl: env("TOK_API_URL") });

// The class each code maps to; the build fails when the spec has a code errorClasses lacks.
const classes = {
  INVALID_API_KEY: sdk.InvalidApiKeyError, FORBIDDEN: sdk.ForbiddenError, CONSENT_EXPIRED: sdk.ConsentExpiredError,
  CONSENT_REVOKED: sdk.ConsentRevokedError, NOT_FOUND: sdk.NotFoundError, METHOD_NOT_ALLOWED: sdk.MethodNotAllowedError,
  CONFLICT: sdk.ConflictError, PAYLOAD_TOO_LARGE: sdk.PayloadTooLargeError, UNSUPPORTED_MEDIA_TYPE: sdk.UnsupportedMediaTypeError,
  IDEMPOTENCY_KEY_REUSED: sdk.IdempotencyKeyReusedError, VALIDATION_ERROR: sdk.ValidationError, RATE_LIMITED: sdk.RateLimitError,
  INTERNAL_ERROR: sdk.InternalServerError, BANK_API_ERROR: sdk.BankApiError, SERVICE_UNAVAILABLE: sdk.ServiceUnavailableError,
  INSUFFICIENT_FUNDS: sdk.InsufficientFundsError, REQUEST_TIMEOUT: sdk.RequestTimeoutError, LIMIT_EXCEEDED: sdk.LimitExceededError, REFUND_EXCEEDS_PAYMENT: sdk.RefundExceedsPaymentError,
  ACCESS_EXCEEDED: sdk.AccessExceededError,
};

test("every error code of the spec has its own class", () => {
  assert.deepEqual([...sdk.errorCodes].sort(), Object.keys(classes).sort());
  const seen = new Set();
  for (const code of sdk.errorCodes) {
    const info = { status: 400, headers: new Headers(), requestId: "req_x", rateLimit: null, retryAfter: 7, idempotentReplayed: false, retries: 0 };
    const err = sdk.errorFromResponse(info, { error: { code, message: "m", requestId: "req_x", details: [{ field: "f", message: "g" }] } });
    assert.ok(err instanceof classes[code] && err instanceof TokError && err instanceof Error, code);
    assert.notEqual(err.constructor, TokError, code);
    assert.equal(err.code, code);
    assert.equal(err.message, "m");
    assert.deepEqual(err.details, [{ field: "f", message: "g" }]);
    seen.add(err.constructor);
  }
  assert.equal(seen.size, sdk.errorCodes.length, "two codes share a class");
  const unknown = sdk.errorFromResponse({ status: 418, headers: new Headers(), requestId: null }, { error: { code: "NEW_CODE", message: "m" } });
  assert.equal(unknown.constructor, TokError);
  assert.equal(unknown.code, "NEW_CODE");
});

async function expectError(promise, cls, code, status) {
  const err = await promise.then(() => assert.fail(`expected ${code}`), (e) => e);
  assert.ok(err instanceof cls, `${code}: got ${err}`);
  assert.equal(err.code, code);
  assert.equal(err.status, status);
  assert.match(err.requestId, /^req_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(err.requestId, err.response.headers.get("X-Request-Id"));
  assert.ok(err.message.length > 0);
  return err;
}

test("the stack's errors arrive as their types", async () => {
  const bad = new TokClient({ apiKey: "tok_sandbox_0000000000000000000000000000000000000000", baseUrl: env("TOK_API_URL") });
  await expectError(bad.banks.list(), sdk.InvalidApiKeyError, "INVALID_API_KEY", 401);
  await expectError(tok.banks.get("no-such-bank"), sdk.NotFoundError, "NOT_FOUND", 404);
  const v = await expectError(tok.transactions.list(env("TOK_ACCOUNT_ID"), { limit: 0 }), sdk.ValidationError, "VALIDATION_ERROR", 400);
  assert.equal(v.details[0].field, "limit");
  await expectError(tok.request("POST", "/api-keys", { body: { role: "read_only" } }), sdk.ForbiddenError, "FORBIDDEN", 403);
  await expectError(ended.accounts.get(env("TOK_REVOKED_ACCOUNT_ID")), sdk.ConsentRevokedError, "CONSENT_REVOKED", 403);
  await expectError(ended.transactions.list(env("TOK_EXPIRED_ACCOUNT_ID")), sdk.ConsentExpiredError, "CONSENT_EXPIRED", 403);
  await expectError(ended.consents.renew(env("TOK_REVOKED_CONSENT_ID")), sdk.ConflictError, "CONFLICT", 409);
  const key = `reuse-${Date.now()}`;
  await tok.consents.create({ bankId: "sandbox-rs", callbackUrl: env("TOK_CALLBACK_URL") }, { idempotencyKey: key });
  await expectError(tok.consents.create({ bankId: "sandbox-hr", callbackUrl: env("TOK_CALLBACK_URL") }, { idempotencyKey: key }),
    sdk.IdempotencyKeyReusedError, "IDEMPOTENCY_KEY_REUSED", 422);
  await expectError(tok.request("DELETE", "/banks"), sdk.MethodNotAllowedError, "METHOD_NOT_ALLOWED", 405);
  await expectError(tok.webhooks.create({ url: "http://127.0.0.1:9/x", events: ["*"], description: "x".repeat(2 << 20) }),
    sdk.PayloadTooLargeError, "PAYLOAD_TOO_LARGE", 413);
  await expectError(tok.request("POST", "/webhooks", { body: "url=x", options: { headers: { "Content-Type": "text/plain" } } }),
    sdk.UnsupportedMediaTypeError, "UNSUPPORTED_MEDIA_TYPE", 415);
});
