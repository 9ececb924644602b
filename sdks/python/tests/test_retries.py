import re
import socket
import threading
import time
import unittest

from tokapi import BankApiError, RateLimitError, ServiceUnavailableError, TokClient, TokConnectionError, TokTimeoutError

from .support import env, envelope, faults

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def proxied(**options) -> TokClient:
    return TokClient(api_key=env("TOK_API_KEY"), base_url=env("TOK_FAULT_URL"), **options)


class RetryTest(unittest.TestCase):
    def setUp(self) -> None:
        faults.reset()

    def test_429_retried_after_retry_after(self) -> None:
        retries = []
        tok = TokClient(api_key=env("TOK_FREE_API_KEY"), base_url=env("TOK_API_URL"), on_retry=retries.append)
        for _ in range(40):
            started = time.monotonic()
            page = tok.banks.list()
            if retries:
                r = retries[0]
                self.assertEqual(r.status, 429)
                self.assertGreaterEqual(r.retry_after, 1)
                self.assertGreaterEqual(r.delay, r.retry_after)
                self.assertGreaterEqual(time.monotonic() - started, r.retry_after)
                self.assertGreaterEqual(page.http_response.retries, 1)
                self.assertEqual(page.http_response.status, 200)
                return
        self.fail("40 calls on the free tier were never rate limited")

    def test_rate_limited_without_retries(self) -> None:
        tok = TokClient(api_key=env("TOK_FREE_API_KEY"), base_url=env("TOK_API_URL"), max_retries=0)
        with self.assertRaises(RateLimitError) as cm:
            for _ in range(40):
                tok.banks.list()
        err = cm.exception
        self.assertEqual((err.code, err.status), ("RATE_LIMITED", 429))
        self.assertGreaterEqual(err.retry_after, 1)
        self.assertRegex(err.request_id, r"^req_")
        self.assertEqual(err.response.rate_limit.limit, 60)
        self.assertEqual(err.response.rate_limit.remaining, 0)

    def test_502_on_get_retried(self) -> None:
        faults.add(method="GET", path="/v1/banks", status=502, body=envelope("BANK_API_ERROR"), headers={"X-Tok-Error-Source": "bank"}, times=1)
        retries = []
        page = proxied(on_retry=retries.append).banks.list()
        self.assertGreater(len(page), 0)
        self.assertEqual(retries[0].status, 502)
        log = faults.log()
        self.assertEqual(page.http_response.retries, len(log) - 1)
        self.assertEqual([r["status"] for r in faults.without_limits(log)], [502, 200])

    def test_503_and_504_retried_with_growing_backoff(self) -> None:
        faults.add(method="GET", path="/v1/banks", status=503, body="upstream unavailable", headers={"Content-Type": "text/plain"})
        faults.add(method="GET", path="/v1/banks", status=504, body="upstream timed out", headers={"Content-Type": "text/plain"})
        retries = []
        page = proxied(on_retry=retries.append).banks.list()
        self.assertEqual(page.http_response.retries, 2)
        self.assertEqual([r.status for r in retries], [503, 504])
        self.assertTrue(0.25 <= retries[0].delay <= 0.5, retries[0].delay)
        self.assertTrue(0.5 <= retries[1].delay <= 1.0, retries[1].delay)

    def test_503_service_unavailable_retried_after_retry_after(self) -> None:
        faults.add(method="GET", path="/v1/banks", status=503, body=envelope("SERVICE_UNAVAILABLE"), headers={"Retry-After": "1"})
        retries = []
        page = proxied(on_retry=retries.append).banks.list()
        self.assertEqual(page.http_response.retries, 1)
        self.assertEqual(retries[0].retry_after, 1)
        self.assertGreaterEqual(retries[0].delay, 1)
        self.assertIsInstance(retries[0].error, ServiceUnavailableError)

    def test_connection_reset_on_get_retried(self) -> None:
        faults.add(method="GET", path="/v1/banks", drop=True)
        retries = []
        page = proxied(on_retry=retries.append).banks.list()
        self.assertGreater(len(page), 0)
        self.assertEqual(len(retries), 1)
        self.assertIsNone(retries[0].status)
        self.assertIsInstance(retries[0].error, TokConnectionError)

    def test_gives_up_after_max_retries(self) -> None:
        faults.add(method="GET", path="/v1/banks", status=502, body=envelope("BANK_API_ERROR"), headers={"X-Tok-Error-Source": "bank"}, times=5)
        with self.assertRaises(BankApiError) as cm:
            proxied(max_retries=2).banks.list()
        self.assertEqual(cm.exception.status, 502)
        self.assertEqual(len(faults.log()), 3)

    def test_creating_post_retried_with_the_same_automatic_key(self) -> None:
        tok = proxied()
        before = len(tok.consents.list(limit=500))
        faults.add(method="POST", path="/v1/consents", status=502, forward=True)
        consent = tok.consents.create(bank_id="sandbox-rs", callback_url=env("TOK_CALLBACK_URL"))
        self.assertEqual(consent.status, "AWAITING_AUTHORIZATION")
        self.assertTrue(consent.http_response.idempotent_replayed, "the retry should replay the first answer")
        # A 429 waited out on the way is one more retry with the same key; the proxy loses
        # only an answer Tok gave.
        attempts = [r for r in faults.log() if r["method"] == "POST"]
        self.assertEqual(consent.http_response.retries, len(attempts) - 1)
        self.assertEqual({r["idempotencyKey"] for r in attempts}, {attempts[0]["idempotencyKey"]})
        posts = faults.without_limits(attempts)
        self.assertEqual([r["status"] for r in posts], [502, 201])
        self.assertRegex(posts[0]["idempotencyKey"], UUID4)
        self.assertEqual(posts[1]["idempotencyKey"], posts[0]["idempotencyKey"])
        self.assertEqual(len(tok.consents.list(limit=500)), before + 1, "the retried POST created a second consent")
        tok.consents.create(bank_id="sandbox-rs", callback_url=env("TOK_CALLBACK_URL"))
        keys = [r["idempotencyKey"] for r in faults.log() if r["method"] == "POST"]
        self.assertNotEqual(keys[-1], keys[0])

    def test_callers_idempotency_key_sent_as_given(self) -> None:
        key = f"sdk-py-{time.time_ns()}"
        tok = proxied()
        a = tok.consents.create(bank_id="sandbox-rs", callback_url=env("TOK_CALLBACK_URL"), idempotency_key=key)
        b = tok.consents.create(bank_id="sandbox-rs", callback_url=env("TOK_CALLBACK_URL"), idempotency_key=key)
        self.assertEqual(b.id, a.id)
        self.assertTrue(b.http_response.idempotent_replayed)
        log = faults.log()
        self.assertEqual(len(faults.without_limits(log)), 2)
        self.assertEqual({r["idempotencyKey"] for r in log}, {key})

    def test_post_without_key_not_retried(self) -> None:
        faults.add(method="POST", path="/v1/webhooks", status=502, body=envelope("BANK_API_ERROR"))
        with self.assertRaises(BankApiError):
            proxied().request("POST", "/webhooks/whk_01JD5ZKX3W6Q8N9R2T4V7Y0B1D/test")
        self.assertEqual(len(faults.log()), 1)

    def test_timeouts_per_attempt_and_configurable(self) -> None:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        conns = []
        stop = threading.Event()

        def accept() -> None:  # accepts and never answers
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    conns.append(server.accept()[0])
                except OSError:
                    pass

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        try:
            tok = TokClient(api_key="tok_sandbox_x", base_url=f"http://127.0.0.1:{server.getsockname()[1]}/v1",
                            timeout=0.2, max_retries=1)
            started = time.monotonic()
            with self.assertRaises(TokTimeoutError):
                tok.banks.list()
            self.assertGreaterEqual(time.monotonic() - started, 0.4)
            self.assertEqual(len(conns), 2)
            with self.assertRaises(TokTimeoutError):
                tok.with_options(timeout=0.05, max_retries=0).banks.list()
        finally:
            stop.set()
            t.join()
            for c in conns:
                c.close()
            server.close()
