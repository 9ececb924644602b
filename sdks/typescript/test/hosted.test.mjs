import assert from "node:assert/strict";
import { test } from "node:test";
import { TokClient } from "@tokapi/sdk";
import { env, psu } from "./env.mjs";

const tok = new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_API_URL") });

// Without a bank, redirectUrl is Tok's hosted pages: the customer picks Serbia and the
// Serbian sandbox bank there (no JavaScript), authorises as demo and comes back.
async function walkHosted(redirectUrl) {
  assert.ok(redirectUrl.startsWith(env("TOK_HOSTED_URL") + "hps_"), redirectUrl);
  const walked = await psu({ url: redirectUrl, country: "RS", bankId: "sandbox-rs" });
  assert.ok(walked.pages.length >= 5, walked.pages.join(" "));
  return walked;
}

test("a consent without bankId is authorised through Tok's hosted pages", async () => {
  const consent = await tok.consents.create({ callbackUrl: env("TOK_CALLBACK_URL") });
  assert.equal(consent.bankId, null);
  const walked = await walkHosted(consent.redirectUrl);
  assert.equal(walked.query.get("consentId"), consent.id);
  assert.equal(walked.query.get("status"), "AUTHORIZED");
  const after = await tok.consents.get(consent.id);
  assert.equal(after.status, "AUTHORIZED");
  assert.equal(after.bankId, "sandbox-rs");
});

test("the seed's payment body, plus callbackUrl, is paid through Tok's hosted pages", async () => {
  const payment = await tok.payments.create({
    creditorIban: "RS35105008123123123173", amount: "1500.00", currency: "RSD", remittanceInfo: "Invoice INV-2026-042",
    callbackUrl: env("TOK_CALLBACK_URL"),
  });
  assert.equal(payment.status, "AWAITING_AUTHORIZATION");
  assert.equal(payment.bankId, null);
  const walked = await walkHosted(payment.redirectUrl);
  assert.equal(walked.query.get("paymentId"), payment.id);
  assert.ok(["PENDING", "COMPLETED"].includes(walked.query.get("status")), walked.callback);
  const after = await tok.payments.get(payment.id);
  assert.equal(after.bankId, "sandbox-rs");
  assert.equal(after.paymentProduct, "domestic-credit-transfers");
  assert.equal(after.amount, "1500.0000");
  assert.ok(["PENDING", "COMPLETED"].includes(after.status), after.status);
});
