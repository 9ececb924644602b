import unittest
from decimal import Decimal

import tokapi
from tokapi import Page, TokClient

from .support import AMOUNT, env


class PaginationTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tok = TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_API_URL"))
        self.account_id = env("TOK_ACCOUNT_ID")

    def test_one_page_and_a_generator_over_every_page(self) -> None:
        first = self.tok.transactions.list(self.account_id, limit=50)
        self.assertIsInstance(first, Page)
        self.assertEqual(len(first), 50)
        self.assertTrue(first.has_more)
        self.assertIsInstance(first.next_cursor, str)
        self.assertEqual(first.http_response.status, 200)

        pages = list(self.tok.transactions.list(self.account_id, limit=50).pages())
        self.assertGreaterEqual(len(pages), 3)
        self.assertFalse(pages[-1].has_more)
        ids = [t.id for t in self.tok.transactions.list(self.account_id, limit=50).iter_all()]
        self.assertEqual(ids, [t.id for p in pages for t in p])
        self.assertEqual(len(set(ids)), len(ids), "a transaction came twice")
        self.assertEqual(ids[:50], [t.id for t in first])
        self.assertEqual([t.id for t in self.tok.transactions.list(self.account_id).iter_all()], ids)

    def test_filters_and_amounts_as_decimal_strings(self) -> None:
        n = 0
        page = self.tok.transactions.list(self.account_id, date_from="2026-01-01", date_to="2026-03-01", status="booked")
        for t in page.iter_all():
            n += 1
            self.assertEqual(t.status, "booked")
            self.assertTrue("2026-01-01" <= t.booking_date <= "2026-03-01", t.booking_date)
            self.assertIsInstance(t.amount, str)
            self.assertRegex(t.amount, AMOUNT)
            self.assertEqual(t.amount_decimal, Decimal(t.amount))
            self.assertIsInstance(t.amount_decimal, Decimal)
        self.assertGreater(n, 0, "no booked transactions in the window")
        t = self.tok.transactions.list(self.account_id, limit=1)[0]
        self.assertEqual(self.tok.transactions.get(self.account_id, t.id), t)
        changes = self.tok.transactions.changes(self.account_id, limit=5)
        self.assertEqual(len(changes), 5)
        self.assertIn(changes[0].type, ("added", "modified", "removed"))
        self.assertEqual(changes[0].transaction.account_id, self.account_id)
        self.assertIsInstance(changes.next_cursor, str)

    def test_accounts_balances_standing_orders_banks_events(self) -> None:
        accounts = self.tok.accounts.list()
        self.assertIn(self.account_id, [a.id for a in accounts])
        account = self.tok.accounts.get(self.account_id)
        self.assertEqual(account.id, self.account_id)
        self.assertTrue(account.http_response.request_id.startswith("req_"))
        if account.balance is not None:
            self.assertIsInstance(account.balance.amount_decimal, Decimal)
        balances = self.tok.accounts.balances(self.account_id)
        self.assertGreater(len(balances.balances), 0)
        for b in balances.balances:
            self.assertRegex(b.amount, AMOUNT)
        # Standing orders sync after the transactions, at most once a day: there may be none yet.
        orders = self.tok.standing_orders.list(self.account_id)
        self.assertEqual(orders.http_response.status, 200)
        for o in orders:
            self.assertEqual(self.tok.standing_orders.get(self.account_id, o.id), o)
        banks = self.tok.banks.list(country="RS")
        self.assertTrue(len(banks) > 0 and all(b.country == "RS" for b in banks))
        self.assertEqual(self.tok.banks.get("sandbox-rs").services.ais, True)
        events = self.tok.events.list(type="transactions.created")
        self.assertGreater(len(events), 0)
        self.assertEqual(self.tok.events.get(events[0].id).id, events[0].id)
        consents = self.tok.consents.list(status="AUTHORIZED")
        self.assertGreater(len(consents), 0)
        self.assertEqual(self.tok.consents.get(consents[0].id).status, "AUTHORIZED")

    def test_rate_limit_headers_on_every_response(self) -> None:
        rl = self.tok.banks.list().http_response.rate_limit
        self.assertIsNotNone(rl)
        self.assertEqual(rl.limit, 300)
        self.assertTrue(0 <= rl.remaining <= 300)
        self.assertEqual(self.tok.accounts.get(self.account_id).http_response.rate_limit.limit, 300)

    def test_env_defaults(self) -> None:
        import os
        from unittest import mock
        with mock.patch.dict(os.environ, {"TOK_API_KEY": env("TOK_API_KEY"), "TOK_API_URL": env("TOK_API_URL")}):
            self.assertGreater(len(TokClient().banks.list()), 0)
        with mock.patch.dict(os.environ, {}, clear=True):
            with self.assertRaisesRegex(ValueError, "no API key"):
                TokClient()
            # Without TOK_API_URL the base URL follows the key's environment.
            self.assertEqual(TokClient("tok_sandbox_x")._transport.base_url, tokapi.SANDBOX_BASE_URL)
            self.assertEqual(TokClient("tok_live_x")._transport.base_url, tokapi.DEFAULT_BASE_URL)
