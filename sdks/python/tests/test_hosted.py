import unittest

from tokapi import TokClient

from .support import Walked, env, psu


class HostedTest(unittest.TestCase):
    """Without a bank, redirectUrl is Tok's hosted pages: the customer picks Serbia and the
    Serbian sandbox bank there (no JavaScript), authorises as demo and comes back."""

    def setUp(self) -> None:
        self.tok = TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_API_URL"))

    def walk(self, redirect_url: object) -> Walked:
        self.assertIsInstance(redirect_url, str)
        assert isinstance(redirect_url, str)
        self.assertTrue(redirect_url.startswith(env("TOK_HOSTED_URL") + "hps_"), redirect_url)
        walked = psu(url=redirect_url, country="RS", bankId="sandbox-rs")
        self.assertGreaterEqual(len(walked.pages), 5, walked.pages)
        return walked

    def test_consent_without_bank(self) -> None:
        consent = self.tok.consents.create(callback_url=env("TOK_CALLBACK_URL"))
        self.assertIsNone(consent.bank_id)
        walked = self.walk(consent.redirect_url)
        self.assertEqual(walked.query.get("consentId"), consent.id)
        self.assertEqual(walked.query.get("status"), "AUTHORIZED")
        after = self.tok.consents.get(consent.id)
        self.assertEqual((after.status, after.bank_id), ("AUTHORIZED", "sandbox-rs"))

    def test_seed_payment(self) -> None:
        payment = self.tok.payments.create(creditor_iban="RS35105008123123123173", amount="1500.00", currency="RSD",
                                           remittance_info="Invoice INV-2026-042", callback_url=env("TOK_CALLBACK_URL"))
        self.assertEqual((payment.status, payment.bank_id), ("AWAITING_AUTHORIZATION", None))
        walked = self.walk(payment.redirect_url)
        self.assertEqual(walked.query.get("paymentId"), payment.id)
        self.assertIn(walked.query.get("status"), ("PENDING", "COMPLETED"))
        after = self.tok.payments.get(payment.id)
        self.assertEqual((after.bank_id, after.payment_product, after.amount), ("sandbox-rs", "domestic-credit-transfers", "1500.0000"))
        self.assertIn(after.status, ("PENDING", "COMPLETED"))
