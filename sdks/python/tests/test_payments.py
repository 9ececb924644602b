import unittest
from decimal import Decimal

from tokapi import ConflictError, TokClient

from .support import env


class PaymentsTest(unittest.TestCase):
    def test_initiate_read_list_cancel(self) -> None:
        tok = TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_API_URL"))
        payment = tok.payments.create(bank_id="sandbox-rs", creditor_iban="RS35105008123123123173",
                                      creditor_name="Bilko d.o.o.", amount=Decimal("1500.00"), currency="RSD",
                                      remittance_info="Invoice INV-2026-042", callback_url=env("TOK_CALLBACK_URL"))
        self.assertEqual(payment.status, "AWAITING_AUTHORIZATION")
        self.assertTrue(payment.redirect_url.startswith("http"))
        self.assertEqual(payment.amount, "1500.0000")
        self.assertEqual(payment.amount_decimal, Decimal("1500"))
        self.assertEqual(tok.payments.get(payment.id).id, payment.id)
        self.assertIn(payment.id, [p.id for p in tok.payments.list(status="AWAITING_AUTHORIZATION").iter_all()])
        self.assertEqual(tok.payments.cancel(payment.id).status, "CANCELLED")
        with self.assertRaises(ConflictError):
            tok.payments.cancel(payment.id)
        with self.assertRaises(TypeError):
            tok.payments.create(bank_id="sandbox-rs", creditor_iban="RS35105008123123123173", amount=1500.0,  # type: ignore[arg-type]
                                currency="RSD", callback_url=env("TOK_CALLBACK_URL"))
