import assert from "node:assert/strict";
import { test } from "node:test";
import { NotFoundError, TokClient } from "@tokapi/sdk";
import { env, envelope, faults, specOperations } from "./env.mjs";

// For each operation of the spec that takes an API key, a call of its SDK method.
const methods = {
  listBanks: (t) => t.banks.list(),
  getBank: (t) => t.banks.get("x"),
  getOrganisation: (t) => t.organisation.get(),
  updateOrganisation: (t) => t.organisation.update({}),
  listApiKeys: (t) => t.apiKeys.list(),
  createApiKey: (t) => t.apiKeys.create({ role: "developer" }),
  rotateApiKey: (t) => t.apiKeys.rotate("x"),
  revokeApiKey: (t) => t.apiKeys.revoke("x"),
  listMembers: (t) => t.members.list(),
  addMember: (t) => t.members.add({ email: "a@example.com", role: "viewer" }),
  getMember: (t) => t.members.get("x"),
  updateMember: (t) => t.members.update("x", { role: "viewer" }),
  removeMember: (t) => t.members.remove("x"),
  listWebhooks: (t) => t.webhooks.list(),
  createWebhook: (t) => t.webhooks.create({ url: "https://a.example.com", events: ["*"] }),
  getWebhook: (t) => t.webhooks.get("x"),
  updateWebhook: (t) => t.webhooks.update("x", {}),
  deleteWebhook: (t) => t.webhooks.delete("x"),
  rotateWebhookSecret: (t) => t.webhooks.rotateSecret("x"),
  testWebhook: (t) => t.webhooks.test("x"),
  listWebhookDeliveries: (t) => t.webhooks.deliveries("x"),
  getWebhookDelivery: (t) => t.webhooks.delivery("x", "y"),
  redeliverWebhookDelivery: (t) => t.webhooks.redeliver("x", "y"),
  listEvents: (t) => t.events.list(),
  getEvent: (t) => t.events.get("x"),
  createConsent: (t) => t.consents.create({ callbackUrl: "https://a.example.com" }),
  listConsents: (t) => t.consents.list(),
  getConsent: (t) => t.consents.get("x"),
  revokeConsent: (t) => t.consents.revoke("x"),
  refreshConsent: (t) => t.consents.refresh("x"),
  renewConsent: (t) => t.consents.renew("x"),
  sandboxExpireConsent: (t) => t.sandbox.expireConsent("x"),
  sandboxRevokeConsent: (t) => t.sandbox.revokeConsent("x"),
  sandboxRevokeVrpConsent: (t) => t.sandbox.revokeVrpConsent("x"),
  sandboxFireWebhook: (t) => t.sandbox.fireWebhook({ type: "sync.failed" }),
  sandboxAddTransaction: (t) => t.sandbox.addTransaction("x", { amount: "1.00" }),
  listAccounts: (t) => t.accounts.list(),
  getAccount: (t) => t.accounts.get("x"),
  getAccountBalances: (t) => t.accounts.balances("x"),
  listTransactions: (t) => t.transactions.list("x"),
  listTransactionChanges: (t) => t.transactions.changes("x"),
  getTransaction: (t) => t.transactions.get("x", "y"),
  listStandingOrders: (t) => t.standingOrders.list("x"),
  getStandingOrder: (t) => t.standingOrders.get("x", "y"),
  confirmFunds: (t) => t.payments.confirmFunds({ accountId: "x", amount: "1.00", currency: "EUR" }),
  createPayment: (t) => t.payments.create({ creditorIban: "x", amount: "1.00", currency: "EUR", callbackUrl: "https://a.example.com" }),
  listPayments: (t) => t.payments.list(),
  getPayment: (t) => t.payments.get("x"),
  cancelPayment: (t) => t.payments.cancel("x"),
  createRefund: (t) => t.refunds.create("x"),
  listPaymentRefunds: (t) => t.refunds.listForPayment("x"),
  listRefunds: (t) => t.refunds.list(),
  getRefund: (t) => t.refunds.get("x"),
  cancelRefund: (t) => t.refunds.cancel("x"),
  createRefundBatch: (t) => t.refunds.createBatch({ refundIds: ["x"] }),
  getRefundBatch: (t) => t.refunds.getBatch("x"),
  createVrpConsent: (t) => t.vrp.createConsent({}),
  listVrpConsents: (t) => t.vrp.listConsents(),
  getVrpConsent: (t) => t.vrp.getConsent("x"),
  revokeVrpConsent: (t) => t.vrp.revokeConsent("x"),
  listVrpConsentPayments: (t) => t.vrp.consentPayments("x"),
  confirmVrpFunds: (t) => t.vrp.confirmFunds("x", { amount: "1.00" }),
  createVrp: (t) => t.vrp.pay({ consentId: "x", amount: "1.00", currency: "EUR" }),
  listVrps: (t) => t.vrp.listPayments(),
  getVrp: (t) => t.vrp.getPayment("x"),
};

// The fault proxy answers every request with a 404 itself (nothing reaches Tok) and logs
// which operation of the spec each request was.
test("every operation of the spec that takes an API key has a method, and it sends that operation", async () => {
  const tok = new TokClient({ apiKey: env("TOK_API_KEY"), baseUrl: env("TOK_FAULT_URL"), maxRetries: 0 });
  await faults.reset();
  await faults.add({ path: "/v1/", times: 1 << 20, status: 404, body: envelope("NOT_FOUND") });
  const ops = specOperations();
  const missing = [];
  try {
    for (const op of ops.filter((o) => o.apiKey)) {
      const call = methods[op.operationId];
      if (!call) {
        missing.push(`${op.method} ${op.path} (${op.operationId})`);
        continue;
      }
      const before = (await faults.log()).length;
      await assert.rejects(Promise.resolve(call(tok)), NotFoundError, op.operationId);
      const sent = (await faults.log()).slice(before);
      assert.deepEqual(sent.map((e) => e.operation), [op.operationId], `${op.operationId}'s method sent ${JSON.stringify(sent)}`);
    }
  } finally {
    await faults.reset();
  }
  assert.deepEqual(missing, [], "operations without a method in the TypeScript SDK");
  const ids = new Set(ops.map((o) => o.operationId));
  assert.deepEqual(Object.keys(methods).filter((id) => !ids.has(id)), [], "methods of operations no longer in the spec");
});
