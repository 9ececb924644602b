import base64
import http.server
import threading
import time
import unittest

from tokapi import TokClient, WebhookVerificationError, verify_webhook

from .support import env, fixtures_signed_at, webhook_fixtures


class FixtureTest(unittest.TestCase):
    """Tok's own deliveries and messages signed by shared/webhooks, with timestamps relative to
    when they were written."""

    def test_verify_exactly_when_valid(self) -> None:
        now = fixtures_signed_at()
        cases = webhook_fixtures()
        self.assertGreaterEqual(len(cases), 8)
        for c in cases:
            upper = {k.upper(): v for k, v in c["headers"].items()}
            for headers in (c["headers"], upper):
                with self.subTest(c["name"]):
                    if c["valid"]:
                        event = verify_webhook(c["payload"], headers, c["secret"], now=now)
                        self.assertEqual(event.type, "webhook.ping")
                        self.assertEqual(event.id, c["headers"]["webhook-id"])
                        self.assertEqual(verify_webhook(c["payload"].encode(), headers, [c["secret"]], now=now), event)
                    else:
                        with self.assertRaises(WebhookVerificationError):
                            verify_webhook(c["payload"], headers, c["secret"], now=now)

    def test_receiver_clock_and_rotation(self) -> None:
        cases = {c["name"]: c for c in webhook_fixtures()}
        delivered = cases["delivered by Tok"]
        ts = int(delivered["headers"]["webhook-timestamp"])
        with self.assertRaisesRegex(WebhookVerificationError, "too old"):
            verify_webhook(delivered["payload"], delivered["headers"], delivered["secret"], now=ts + 301)
        with self.assertRaisesRegex(WebhookVerificationError, "future"):
            verify_webhook(delivered["payload"], delivered["headers"], delivered["secret"], now=ts - 301)
        verify_webhook(delivered["payload"], delivered["headers"], delivered["secret"], now=ts + 299)
        # Signed before the rotation (old secret only): a receiver holding both secrets
        # accepts it, one holding only the new secret does not.
        new_secret = cases["rotation, verified with the new secret"]["secret"]
        verify_webhook(delivered["payload"], delivered["headers"], [new_secret, delivered["secret"]], now=ts)
        with self.assertRaisesRegex(WebhookVerificationError, "no webhook-signature matches"):
            verify_webhook(delivered["payload"], delivered["headers"], new_secret, now=ts)
        with self.assertRaisesRegex(WebhookVerificationError, "missing"):
            verify_webhook(delivered["payload"], {}, delivered["secret"])


class DeliveryTest(unittest.TestCase):
    def test_real_delivery_verifies_before_and_after_rotation(self) -> None:
        received = []
        arrived = threading.Condition()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with arrived:
                    received.append((body, {k.lower(): v for k, v in self.headers.items()}))
                    arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)

        def nth(n: int):
            with arrived:
                self.assertTrue(arrived.wait_for(lambda: len(received) >= n, timeout=30), "no delivery within 30 s")
                return received[n - 1]

        tok = TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_API_URL"))
        hook = tok.webhooks.create(url=f"http://127.0.0.1:{server.server_address[1]}/hooks", events=["webhook.ping"])
        self.addCleanup(tok.webhooks.delete, hook.id)
        self.assertTrue(hook.secret.startswith("whsec_"))

        ping = tok.webhooks.test(hook.id)
        body, headers = nth(1)
        self.assertEqual(verify_webhook(body, headers, hook.secret).id, ping.id)

        rotated = tok.webhooks.rotate_secret(hook.id)
        self.assertNotEqual(rotated.secret, hook.secret)
        ping2 = tok.webhooks.test(hook.id)
        body, headers = nth(2)
        self.assertEqual(len(headers["webhook-signature"].split(" ")), 2)
        self.assertEqual(verify_webhook(body, headers, rotated.secret).id, ping2.id)
        self.assertEqual(verify_webhook(body, headers, hook.secret).id, ping2.id)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(body, headers, "whsec_" + base64.b64encode(b"not the secret").decode())
        deadline = time.monotonic() + 10
        while len(tok.webhooks.deliveries(hook.id)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(len(tok.webhooks.deliveries(hook.id)), 2)
