import unittest
from typing import Any, Callable

from tokapi import NotFoundError, PeriodicLimit, TokClient

from .support import env, envelope, faults, spec_operations

# For each operation of the spec that takes an API key, a call of its SDK method.
METHODS: dict[str, Callable[[TokClient], Any]] = {
    "listBanks": lambda t: t.banks.list(),
    "getBank": lambda t: t.banks.get("x"),
    "getOrganisation": lambda t: t.organisation.get(),
    "updateOrganisation": lambda t: t.organisation.update(),
    "listApiKeys": lambda t: t.api_keys.list(),
    "createApiKey": lambda t: t.api_keys.create(role="developer"),
    "rotateApiKey": lambda t: t.api_keys.rotate("x"),
    "revokeApiKey": lambda t: t.api_keys.revoke("x"),
    "listMembers": lambda t: t.members.list(),
    "addMember": lambda t: t.members.add(email="a@example.com", role="viewer"),
    "getMember": lambda t: t.members.get("x"),
    "updateMember": lambda t: t.members.update("x", role="viewer"),
    "removeMember": lambda t: t.members.remove("x"),
    "listWebhooks": lambda t: t.webhooks.list(),
    "createWebhook": lambda t: t.webhooks.create(url="https://a.example.com", events=["*"]),
    "getWebhook": lambda t: t.webhooks.get("x"),
    "updateWebhook": lambda t: t.webhooks.update("x"),
    "deleteWebhook": lambda t: t.webhooks.delete("x"),
    "rotateWebhookSecret": lambda t: t.webhooks.rotate_secret("x"),
    "testWebhook": lambda t: t.webhooks.test("x"),
    "listWebhookDeliveries": lambda t: t.webhooks.deliveries("x"),
    "getWebhookDelivery": lambda t: t.webhooks.delivery("x", "y"),
    "redeliverWebhookDelivery": lambda t: t.webhooks.redeliver("x", "y"),
    "listEvents": lambda t: t.events.list(),
    "getEvent": lambda t: t.events.get("x"),
    "createConsent": lambda t: t.consents.create(callback_url="https://a.example.com"),
    "listConsents": lambda t: t.consents.list(),
    "getConsent": lambda t: t.consents.get("x"),
    "revokeConsent": lambda t: t.consents.revoke("x"),
    "refreshConsent": lambda t: t.consents.refresh("x"),
    "renewConsent": lambda t: t.consents.renew("x"),
    "sandboxExpireConsent": lambda t: t.sandbox.expire_consent("x"),
    "sandboxRevokeConsent": lambda t: t.sandbox.revoke_consent("x"),
    "sandboxRevokeVrpConsent": lambda t: t.sandbox.revoke_vrp_consent("x"),
    "sandboxFireWebhook": lambda t: t.sandbox.fire_webhook(type="sync.failed"),
    "sandboxAddTransaction": lambda t: t.sandbox.add_transaction("x", amount="1.00"),
    "listAccounts": lambda t: t.accounts.list(),
    "getAccount": lambda t: t.accounts.get("x"),
    "getAccountBalances": lambda t: t.accounts.balances("x"),
    "listTransactions": lambda t: t.transactions.list("x"),
    "listTransactionChanges": lambda t: t.transactions.changes("x"),
    "getTransaction": lambda t: t.transactions.get("x", "y"),
    "listStandingOrders": lambda t: t.standing_orders.list("x"),
    "getStandingOrder": lambda t: t.standing_orders.get("x", "y"),
    "confirmFunds": lambda t: t.payments.confirm_funds(account_id="x", amount="1.00", currency="EUR"),
    "createPayment": lambda t: t.payments.create(creditor_iban="x", amount="1.00", currency="EUR", callback_url="https://a.example.com"),
    "listPayments": lambda t: t.payments.list(),
    "getPayment": lambda t: t.payments.get("x"),
    "cancelPayment": lambda t: t.payments.cancel("x"),
    "createRefund": lambda t: t.refunds.create("x"),
    "listPaymentRefunds": lambda t: t.refunds.list_for_payment("x"),
    "listRefunds": lambda t: t.refunds.list(),
    "getRefund": lambda t: t.refunds.get("x"),
    "cancelRefund": lambda t: t.refunds.cancel("x"),
    "createRefundBatch": lambda t: t.refunds.create_batch(["x"]),
    "getRefundBatch": lambda t: t.refunds.get_batch("x"),
    "createVrpConsent": lambda t: t.vrp.create_consent(
        creditor_iban="x", creditor_name="x", currency="EUR", maximum_individual_amount="1.00",
        periodic_limits=[PeriodicLimit("1.00", "DAY")], remittance_info="x", callback_url="https://a.example.com", vrp_type="OTHER"),
    "listVrpConsents": lambda t: t.vrp.list_consents(),
    "getVrpConsent": lambda t: t.vrp.get_consent("x"),
    "revokeVrpConsent": lambda t: t.vrp.revoke_consent("x"),
    "listVrpConsentPayments": lambda t: t.vrp.consent_payments("x"),
    "confirmVrpFunds": lambda t: t.vrp.confirm_funds("x", amount="1.00"),
    "createVrp": lambda t: t.vrp.pay(consent_id="x", amount="1.00", currency="EUR"),
    "listVrps": lambda t: t.vrp.list_payments(),
    "getVrp": lambda t: t.vrp.get_payment("x"),
}


class CoverageTest(unittest.TestCase):
    def test_every_api_key_operation_has_a_method_that_sends_it(self) -> None:
        """The fault proxy answers every request with a 404 itself (nothing reaches Tok) and
        logs which operation of the spec each request was."""
        tok = TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_FAULT_URL"), max_retries=0)
        faults.reset()
        faults.add(path="/v1/", times=1 << 20, status=404, body=envelope("NOT_FOUND"))
        ops = spec_operations()
        missing = []
        try:
            for op in ops:
                if not op["apiKey"]:
                    continue
                call = METHODS.get(op["operationId"])
                if call is None:
                    missing.append(f'{op["method"]} {op["path"]} ({op["operationId"]})')
                    continue
                before = len(faults.log())
                with self.assertRaises(NotFoundError, msg=op["operationId"]):
                    call(tok)
                sent = faults.log()[before:]
                self.assertEqual([e["operation"] for e in sent], [op["operationId"]], f'{op["operationId"]} sent {sent}')
        finally:
            faults.reset()
        self.assertEqual(missing, [], "operations without a method in the Python SDK")
        self.assertEqual(sorted(set(METHODS) - {o["operationId"] for o in ops}), [], "methods of operations no longer in the spec")
