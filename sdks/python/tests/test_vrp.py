import unittest
from decimal import Decimal

from tokapi import ConflictError, ConsentRevokedError, LimitExceededError, PeriodicLimit, TokClient

from .support import env, psu


class VrpTest(unittest.TestCase):
    def test_limits_what_is_left_and_revocation(self) -> None:
        """A VRP consent of at most 60.00 EUR a payment and 100.00 EUR a day, authorised as
        demo; payments within it pass, one over what is left is LimitExceededError saying what
        is left, and after revocation ConsentRevokedError."""
        tok = TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_API_URL"))
        created = tok.vrp.create_consent(
            bank_id="sandbox-hr", creditor_iban="HR1723600001101234565", creditor_name="Zajam d.o.o.", currency="EUR",
            maximum_individual_amount=Decimal("60.00"),
            periodic_limits=[PeriodicLimit(Decimal("100.00"), "DAY", "CALENDAR")],
            remittance_info="Loan 42", callback_url=env("TOK_CALLBACK_URL"), vrp_type="OTHER")
        self.assertEqual(created.status, "AWAITING_AUTHORIZATION")
        self.assertIsNone(created.remaining)
        assert created.redirect_url is not None
        walked = psu(url=created.redirect_url)
        self.assertEqual(walked.query.get("vrpConsentId"), created.id)
        self.assertEqual(walked.query.get("status"), "AUTHORIZED")

        def left() -> Decimal:
            remaining = tok.vrp.get_consent(created.id).remaining
            assert remaining is not None
            return remaining.periodic_limits[0].remaining_decimal

        self.assertEqual(tok.vrp.get_consent(created.id).status, "AUTHORIZED")
        self.assertEqual(left(), Decimal("100"))
        self.assertIn(created.id, [c.id for c in tok.vrp.list_consents(status="AUTHORIZED", limit=1).iter_all()])
        self.assertTrue(tok.vrp.confirm_funds(created.id, amount=Decimal("10.00")).funds_available)

        first = tok.vrp.pay(consent_id=created.id, amount=Decimal("60.00"), currency="EUR")
        self.assertEqual(first.vrp_consent_id, created.id)
        self.assertIn(first.status, ("PENDING", "COMPLETED"))
        # The same Idempotency-Key again gets the same payment back and spends nothing more.
        second = tok.vrp.pay(consent_id=created.id, amount="30.00", currency="EUR", idempotency_key=f"vrp-{created.id}")
        again = tok.vrp.pay(consent_id=created.id, amount="30.00", currency="EUR", idempotency_key=f"vrp-{created.id}")
        self.assertEqual(again.id, second.id)
        assert again.http_response is not None
        self.assertTrue(again.http_response.idempotent_replayed)
        self.assertEqual(left(), Decimal("10"))

        with self.assertRaises(LimitExceededError) as over:
            tok.vrp.pay(consent_id=created.id, amount=Decimal("60.01"), currency="EUR")
        self.assertEqual(over.exception.status, 422)
        self.assertEqual(over.exception.details[0]["field"], "maximumIndividualAmount")
        with self.assertRaises(LimitExceededError) as over:
            tok.vrp.pay(consent_id=created.id, amount=Decimal("10.01"), currency="EUR")
        self.assertEqual(over.exception.details[0]["field"], "periodicLimits[0]")
        self.assertRegex(over.exception.details[0]["message"], r"\b10\.00 EUR is left")
        self.assertEqual(left(), Decimal("10"))
        with self.assertRaises(TypeError):
            tok.vrp.pay(consent_id=created.id, amount=1.0, currency="EUR")  # type: ignore[arg-type]

        self.assertEqual(tok.vrp.get_payment(second.id).amount_decimal, Decimal("30"))
        self.assertEqual([p.id for p in tok.vrp.consent_payments(created.id, limit=1).iter_all()], [second.id, first.id])
        self.assertIn(first.id, [p.id for p in tok.vrp.list_payments().iter_all()])

        self.assertEqual(tok.vrp.revoke_consent(created.id).status, "REVOKED")
        with self.assertRaises(ConsentRevokedError):
            tok.vrp.pay(consent_id=created.id, amount="1.00", currency="EUR")
        with self.assertRaises(ConflictError):
            tok.vrp.revoke_consent(created.id)
