"""Typed errors: one TokError subclass per code of the Tok error envelope."""

from __future__ import annotations

from typing import Any, Optional

from ._response import Response


class TokError(Exception):
    """An error the Tok API answered, with the envelope's code, message, request ID and
    details, the HTTP status and the response (headers, rate limit). A code this SDK does not
    know yet is a plain TokError."""

    def __init__(self, code: str, message: str, response: Response, details: Optional[list[dict[str, Any]]] = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.response = response
        self.status = response.status
        self.request_id = response.request_id
        self.details: list[dict[str, Any]] = details or []

    def __str__(self) -> str:
        return f"{self.code} ({self.status}): {self.message} [{self.request_id}]"


class InvalidApiKeyError(TokError): ...
class ForbiddenError(TokError): ...
class ConsentExpiredError(TokError): ...
class ConsentRevokedError(TokError): ...
class NotFoundError(TokError): ...
class MethodNotAllowedError(TokError): ...
class ConflictError(TokError): ...
class PayloadTooLargeError(TokError): ...
class UnsupportedMediaTypeError(TokError): ...
class IdempotencyKeyReusedError(TokError): ...
class ValidationError(TokError): ...
class InternalServerError(TokError): ...
class BankApiError(TokError): ...


class ServiceUnavailableError(TokError):
    """SERVICE_UNAVAILABLE: a dependency did not answer in time; retried after Retry-After."""


class InsufficientFundsError(TokError):
    """INSUFFICIENT_FUNDS: the bank says the account cannot cover the payment; nothing was sent."""


class RefundExceedsPaymentError(TokError):
    """REFUND_EXCEEDS_PAYMENT: the refunds would add up to more than the payment; the details say what is left."""


class RequestTimeoutError(TokError):
    """REQUEST_TIMEOUT: the request body did not arrive in time."""


class AccessExceededError(TokError):
    """ACCESS_EXCEEDED: the consent's unattended accesses of today are spent (a refresh); Retry-After says until when."""


class LimitExceededError(TokError):
    """LIMIT_EXCEEDED: a VRP payment over one of its consent's limits; details name the limit and what is left. Nothing was sent."""


class RateLimitError(TokError):
    """RATE_LIMITED: the organisation's rate limit is spent; ``retry_after`` says for how long."""

    @property
    def retry_after(self) -> Optional[int]:
        """Seconds to wait before the next request (the Retry-After header), or None."""
        return self.response.retry_after


ERROR_CLASSES: dict[str, type[TokError]] = {
    "INVALID_API_KEY": InvalidApiKeyError,
    "FORBIDDEN": ForbiddenError,
    "CONSENT_EXPIRED": ConsentExpiredError,
    "CONSENT_REVOKED": ConsentRevokedError,
    "NOT_FOUND": NotFoundError,
    "METHOD_NOT_ALLOWED": MethodNotAllowedError,
    "CONFLICT": ConflictError,
    "PAYLOAD_TOO_LARGE": PayloadTooLargeError,
    "UNSUPPORTED_MEDIA_TYPE": UnsupportedMediaTypeError,
    "IDEMPOTENCY_KEY_REUSED": IdempotencyKeyReusedError,
    "VALIDATION_ERROR": ValidationError,
    "RATE_LIMITED": RateLimitError,
    "INTERNAL_ERROR": InternalServerError,
    "BANK_API_ERROR": BankApiError,
    "SERVICE_UNAVAILABLE": ServiceUnavailableError,
    "INSUFFICIENT_FUNDS": InsufficientFundsError,
    "REQUEST_TIMEOUT": RequestTimeoutError,
    "ACCESS_EXCEEDED": AccessExceededError,
    "LIMIT_EXCEEDED": LimitExceededError,
    "REFUND_EXCEEDS_PAYMENT": RefundExceedsPaymentError,
}
"""The class of each code; the tests check it against the spec's codes (models.ERROR_CODES)."""


def error_from_response(response: Response, body: Any) -> TokError:
    """The typed error for an error response. A body that is not the Tok envelope (a
    proxy's page, say) gives a TokError with code ``HTTP_<status>``."""
    env = body.get("error") if isinstance(body, dict) else None
    if not isinstance(env, dict) or not isinstance(env.get("code"), str):
        return TokError(f"HTTP_{response.status}", f"HTTP {response.status} without a Tok error body", response)
    code = env["code"]
    details = env.get("details") if isinstance(env.get("details"), list) else []
    cls = ERROR_CLASSES.get(code, TokError)
    return cls(code, str(env.get("message") or code), response, details)


class TokConnectionError(Exception):
    """No response arrived: the connection failed or was reset (``__cause__`` says why)."""


class TokTimeoutError(TokConnectionError):
    """No response arrived within the timeout."""
