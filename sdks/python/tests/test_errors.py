import time
import unittest
from email.message import Message

import tokapi
from tokapi import TokClient, TokError
from tokapi.models import ERROR_CODES

from .support import env


def _response(status: int) -> tokapi.Response:
    h = Message()
    h["X-Request-Id"] = "req_x"
    h["Retry-After"] = "7"
    return tokapi.Response(status, h)


class ErrorMappingTest(unittest.TestCase):
    def test_every_code_of_the_spec_has_its_own_class(self) -> None:
        # ERROR_CODES is generated from api/openapi.yaml.
        self.assertEqual(set(tokapi.ERROR_CLASSES), set(ERROR_CODES))
        self.assertEqual(len(set(tokapi.ERROR_CLASSES.values())), len(ERROR_CODES), "two codes share a class")
        for code in ERROR_CODES:
            err = tokapi.error_from_response(_response(400), {"error": {
                "code": code, "message": "m", "requestId": "req_x", "details": [{"field": "f", "message": "g"}]}})
            self.assertIsInstance(err, tokapi.ERROR_CLASSES[code])
            self.assertIsNot(type(err), TokError)
            self.assertEqual((err.code, err.message, err.request_id, err.details), (code, "m", "req_x", [{"field": "f", "message": "g"}]))
        rl = tokapi.error_from_response(_response(429), {"error": {"code": "RATE_LIMITED", "message": "m"}})
        self.assertEqual(rl.retry_after, 7)
        unknown = tokapi.error_from_response(_response(418), {"error": {"code": "NEW_CODE", "message": "m"}})
        self.assertIs(type(unknown), TokError)
        self.assertEqual(tokapi.error_from_response(_response(503), None).code, "HTTP_503")


class StackErrorsTest(unittest.TestCase):
    def expect(self, cls: type, code: str, status: int, call) -> TokError:
        with self.assertRaises(cls) as cm:
            call()
        err = cm.exception
        self.assertEqual((err.code, err.status), (code, status))
        self.assertRegex(err.request_id, r"^req_[0-9A-HJKMNP-TV-Z]{26}$")
        self.assertEqual(err.request_id, err.response.headers["X-Request-Id"])
        self.assertTrue(err.message)
        return err

    def test_the_stacks_errors_arrive_as_their_types(self) -> None:
        url = env("TOK_API_URL")
        tok = TokClient(api_key=env("TOK_API_KEY"), base_url=url)
        ended = TokClient(api_key=env("TOK_FREE_API_KEY"), base_url=url)  # holds the revoked and the expired connection
        bad = TokClient(api_key="tok_sandbox_0000000000000000000000000000000000000000", base_url=url)
        cb = env("TOK_CALLBACK_URL")
        self.expect(tokapi.InvalidApiKeyError, "INVALID_API_KEY", 401, lambda: bad.banks.list())
        self.expect(tokapi.NotFoundError, "NOT_FOUND", 404, lambda: tok.banks.get("no-such-bank"))
        v = self.expect(tokapi.ValidationError, "VALIDATION_ERROR", 400,
                        lambda: tok.transactions.list(env("TOK_ACCOUNT_ID"), limit=0))
        self.assertEqual(v.details[0]["field"], "limit")
        self.expect(tokapi.ForbiddenError, "FORBIDDEN", 403, lambda: tok.request("POST", "/api-keys", body={"role": "read_only"}))
        self.expect(tokapi.ConsentRevokedError, "CONSENT_REVOKED", 403, lambda: ended.accounts.get(env("TOK_REVOKED_ACCOUNT_ID")))
        self.expect(tokapi.ConsentExpiredError, "CONSENT_EXPIRED", 403,
                    lambda: ended.transactions.list(env("TOK_EXPIRED_ACCOUNT_ID")))
        self.expect(tokapi.ConflictError, "CONFLICT", 409, lambda: ended.consents.renew(env("TOK_REVOKED_CONSENT_ID")))
        key = f"reuse-py-{time.time_ns()}"
        tok.consents.create(bank_id="sandbox-rs", callback_url=cb, idempotency_key=key)
        self.expect(tokapi.IdempotencyKeyReusedError, "IDEMPOTENCY_KEY_REUSED", 422,
                    lambda: tok.consents.create(bank_id="sandbox-hr", callback_url=cb, idempotency_key=key))
        self.expect(tokapi.MethodNotAllowedError, "METHOD_NOT_ALLOWED", 405, lambda: tok.request("DELETE", "/banks"))
        self.expect(tokapi.PayloadTooLargeError, "PAYLOAD_TOO_LARGE", 413,
                    lambda: tok.webhooks.create(url="http://127.0.0.1:9/x", events=["*"], description="x" * (2 << 20)))
        self.expect(tokapi.UnsupportedMediaTypeError, "UNSUPPORTED_MEDIA_TYPE", 415,
                    lambda: tok.request("POST", "/webhooks", body=b"url=x", headers={"Content-Type": "text/plain"}))
