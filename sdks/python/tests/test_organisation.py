import unittest

from tokapi import ForbiddenError, TokClient

from .support import env


class OrganisationTest(unittest.TestCase):
    def test_read_and_sandbox_key_cannot_change_settings(self) -> None:
        tok = TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_API_URL"))
        org = tok.organisation.get()
        self.assertEqual(org.tier, "pro")
        self.assertEqual(org.environment, "sandbox")
        self.assertIsNone(org.brand_color)
        with self.assertRaises(ForbiddenError):
            tok.organisation.update(display_name="Bilko", brand_color="#1a2b3c")
        self.assertIsNone(tok.organisation.get().display_name)

    def test_sandbox_fires_an_event_of_any_type(self) -> None:
        tok = TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_API_URL"))
        event = tok.sandbox.fire_webhook(type="sync.failed")
        self.assertEqual(event.type, "sync.failed")
