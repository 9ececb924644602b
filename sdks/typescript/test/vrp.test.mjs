import assert from "node:assert/strict";
import { test } from "node:test";
import { ConflictError, ConsentRevokedError, LimitExceededError, TokClient } from "@tokapi/sdk";
import { env, psu } from "./env.mjs";

const tok = new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_API_URL") });

test("a VRP consent: authorised as demo, payments within its limits, LIMIT_EXCEEDED with what is left, revoked", async () => {
  const created = await tok.vrp.createConsent({
    bankId: "sandbox-hr", creditorIban: "HR1723600001101234565", creditorName: "Zajam d.o.o.", currency: "EUR",
    maximumIndividualAmount: "60.00", periodicLimits: [{ maximumAmount: "100.00", periodType: "DAY", periodAlignment: "CALENDAR" }],
    remittanceInfo: "Loan 42", callbackUrl: env("TOK_CALLBACK_URL"), vrpType: "OTHER",
  });
  assert.equal(created.status, "AWAITING_AUTHORIZATION");
  assert.equal(created.remaining, null);
  const walked = await psu({ url: created.redirectUrl });
  assert.equal(walked.query.get("vrpConsentId"), created.id);
  assert.equal(walked.query.get("status"), "AUTHORIZED");

  const left = async () => (await tok.vrp.getConsent(created.id)).remaining.periodicLimits[0].remaining;
  const consent = await tok.vrp.getConsent(created.id);
  assert.equal(consent.status, "AUTHORIZED");
  assert.equal(consent.remaining.periodicLimits[0].maximumAmount, "100.0000");
  assert.equal(await left(), "100.0000");
  const listed = [];
  for await (const c of tok.vrp.listConsents({ status: "AUTHORIZED", limit: 1 })) listed.push(c.id);
  assert.ok(listed.includes(created.id));
  assert.equal((await tok.vrp.confirmFunds(created.id, { amount: "10.00" })).fundsAvailable, true);

  const pay = (amount, options) => tok.vrp.pay({ consentId: created.id, amount, currency: "EUR" }, options);
  const first = await pay("60.00");
  assert.equal(first.vrpConsentId, created.id);
  assert.ok(["PENDING", "COMPLETED"].includes(first.status), first.status);
  // The same Idempotency-Key again gets the same payment back and spends nothing more.
  const second = await pay("30.00", { idempotencyKey: `vrp-${created.id}` });
  const again = await pay("30.00", { idempotencyKey: `vrp-${created.id}` });
  assert.equal(again.id, second.id);
  assert.equal(again.$response.idempotentReplayed, true);
  assert.equal(await left(), "10.0000");

  await assert.rejects(pay("60.01"), (e) => e instanceof LimitExceededError && e.status === 422 && e.details[0].field === "maximumIndividualAmount");
  await assert.rejects(pay("10.01"), (e) => {
    assert.ok(e instanceof LimitExceededError, String(e));
    assert.equal(e.details[0].field, "periodicLimits[0]");
    assert.match(e.details[0].message, /\b10\.00 EUR is left/);
    return true;
  });
  assert.equal(await left(), "10.0000");

  assert.equal((await tok.vrp.getPayment(second.id)).amount, "30.0000");
  const under = [];
  for await (const p of tok.vrp.consentPayments(created.id, { limit: 1 })) under.push(p.id);
  assert.deepEqual(under, [second.id, first.id]);
  const all = [];
  for await (const p of tok.vrp.listPayments()) all.push(p.id);
  assert.ok(all.includes(first.id));

  assert.equal((await tok.vrp.revokeConsent(created.id)).status, "REVOKED");
  await assert.rejects(pay("1.00"), ConsentRevokedError);
  await assert.rejects(tok.vrp.revokeConsent(created.id), ConflictError);
});
