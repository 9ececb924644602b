"""tokapi: the Tok API client for Python 3.10+, standard library only.

    from tokapi import TokClient

    tok = TokClient(api_key="tok_sandbox_…")
    accounts = tok.accounts.list()
    transactions = tok.transactions.list(accounts[0].id, date_from="2026-01-01")
"""

from . import models
from ._http import VERSION, RetryEvent
from ._model import Model, to_decimal
from ._response import RateLimit, Response
from .client import DEFAULT_BASE_URL, SANDBOX_BASE_URL, PeriodicLimit, TokClient
from .errors import (
    ERROR_CLASSES,
    AccessExceededError,
    BankApiError,
    ConflictError,
    ConsentExpiredError,
    ConsentRevokedError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    InternalServerError,
    InvalidApiKeyError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    RefundExceedsPaymentError,
    RequestTimeoutError,
    LimitExceededError,
    ServiceUnavailableError,
    TokConnectionError,
    TokError,
    TokTimeoutError,
    UnsupportedMediaTypeError,
    ValidationError,
    error_from_response,
)
from .pagination import Page
from .webhooks import WEBHOOK_TOLERANCE_SECONDS, WebhookVerificationError, verify_webhook

__version__ = VERSION
__all__ = [
    "AccessExceededError", "DEFAULT_BASE_URL", "ERROR_CLASSES", "VERSION", "WEBHOOK_TOLERANCE_SECONDS", "BankApiError", "ConflictError",
    "ConsentExpiredError", "ConsentRevokedError", "ForbiddenError", "IdempotencyKeyReusedError", "InternalServerError",
    "InvalidApiKeyError", "MethodNotAllowedError", "Model", "NotFoundError", "Page", "PayloadTooLargeError", "PeriodicLimit",
    "InsufficientFundsError", "RefundExceedsPaymentError", "RequestTimeoutError", "LimitExceededError", "RateLimit", "RateLimitError", "Response", "SANDBOX_BASE_URL", "ServiceUnavailableError", "RetryEvent", "TokClient", "TokConnectionError", "TokError",
    "TokTimeoutError", "UnsupportedMediaTypeError", "ValidationError", "WebhookVerificationError",
    "error_from_response", "models", "to_decimal", "verify_webhook",
]
