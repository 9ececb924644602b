import assert from "node:assert/strict";
import { test } from "node:test";
import { ConflictError, TokClient } from "@tokapi/sdk";
import { env } from "./env.mjs";

const tok = new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_API_URL") });

test("a payment is initiated, read, listed and cancelled; its amount stays a decimal string", async () => {
  const payment = await tok.payments.create({
    bankId: "sandbox-rs", creditorIban: "RS35105008123123123173", creditorName: "Bilko d.o.o.",
    amount: "1500.00", currency: "RSD", remittanceInfo: "Invoice INV-2026-042", callbackUrl: env("TOK_CALLBACK_URL"),
  });
  assert.equal(payment.status, "AWAITING_AUTHORIZATION");
  assert.match(payment.redirectUrl, /^http/);
  assert.equal(payment.amount, "1500.0000");
  assert.equal((await tok.payments.get(payment.id)).id, payment.id);
  const listed = [];
  for await (const p of tok.payments.list({ status: "AWAITING_AUTHORIZATION" })) listed.push(p.id);
  assert.ok(listed.includes(payment.id));
  const cancelled = await tok.payments.cancel(payment.id);
  assert.equal(cancelled.status, "CANCELLED");
  await assert.rejects(tok.payments.cancel(payment.id), ConflictError);
});
