"""Sending requests: authentication, JSON, retries with backoff, Idempotency-Key."""

from __future__ import annotations

import http.client
import json
import platform
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from decimal import Decimal
from email.message import Message
from typing import Any, Callable, Mapping, Optional

from ._response import Response
from .errors import TokConnectionError, TokTimeoutError, error_from_response

VERSION = "1.0.0"

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRYABLE_STATUSES = frozenset({502, 503, 504})
_BASE_DELAY = 0.5


@dataclass(frozen=True)
class RetryEvent:
    """Why a request is about to be retried, given to the ``on_retry`` option."""

    method: str
    url: str
    attempt: int
    """1 for the first retry."""
    delay: float
    """Seconds the client waits before the retry."""
    status: Optional[int]
    """The status that caused the retry, or None after a connection error or timeout."""
    retry_after: Optional[int]
    idempotency_key: Optional[str]
    error: BaseException


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The API never redirects a client; a redirect would resend the API key elsewhere.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class Transport:
    def __init__(self, *, api_key: str, base_url: str, timeout: float, max_retries: int, max_retry_delay: float,
                 on_retry: Optional[Callable[[RetryEvent], None]]):
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_delay = max_retry_delay
        self.on_retry = on_retry

    def send(self, method: str, path: str, *, query: Optional[Mapping[str, Any]] = None, body: Any = None,
             creates: bool = False, idempotency_key: Optional[str] = None, headers: Optional[Mapping[str, str]] = None,
             timeout: Optional[float] = None, max_retries: Optional[int] = None) -> tuple[Any, Response]:
        """Sends a request with retries; returns the parsed JSON body (None for 204) and the response."""
        url = self.base_url + path
        params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        hdrs = {
            "Authorization": f"ApiKey {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"tok-sdk-python/{VERSION} python/{platform.python_version()}",
        }
        hdrs.update(headers or {})
        data: Optional[bytes] = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body, default=_json_default).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if idempotency_key is None and creates:
            idempotency_key = str(uuid.uuid4())
        if idempotency_key is not None:
            hdrs["Idempotency-Key"] = idempotency_key
        # Only a request the server can safely see twice is retried, as the other SDKs do.
        safe = method in _IDEMPOTENT_METHODS or "Idempotency-Key" in hdrs
        retries = self.max_retries if max_retries is None else max_retries
        per_attempt = self.timeout if timeout is None else timeout

        attempt = 0
        while True:
            req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
            try:
                with _opener.open(req, timeout=per_attempt) as resp:
                    return _parse(resp.read()), Response(resp.status, resp.headers, attempt)
            except urllib.error.HTTPError as e:
                with e:
                    raw = e.read()
                response = Response(e.code, e.headers if e.headers is not None else Message(), attempt)
                error = error_from_response(response, _parse(raw))
                retry_after = response.retry_after
                retryable = safe and (e.code == 429 or e.code in _RETRYABLE_STATUSES)
                if (not retryable or attempt >= retries
                        or (retry_after is not None and retry_after > self.max_retry_delay)):
                    raise error from None
                self._wait(method, url, attempt, e.code, retry_after, idempotency_key, error)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
                timed_out = isinstance(e, (socket.timeout, TimeoutError)) or isinstance(
                    getattr(e, "reason", None), (socket.timeout, TimeoutError))
                failure: TokConnectionError = (
                    TokTimeoutError(f"{method} {url}: no response within {per_attempt} s") if timed_out
                    else TokConnectionError(f"{method} {url}: {getattr(e, 'reason', e)}"))
                if not safe or attempt >= retries:
                    raise failure from e
                self._wait(method, url, attempt, None, None, idempotency_key, failure)
            attempt += 1

    def _wait(self, method: str, url: str, attempt: int, status: Optional[int], retry_after: Optional[int],
              idempotency_key: Optional[str], error: BaseException) -> None:
        # Retry-After is a floor: wait it out plus a little jitter so that clients refused at
        # the same moment do not come back together. Otherwise exponential backoff with jitter.
        if retry_after is not None:
            delay = retry_after + random.uniform(0, 0.25)
        else:
            delay = min(self.max_retry_delay, _BASE_DELAY * 2 ** attempt) * random.uniform(0.5, 1.0)
        if self.on_retry is not None:
            self.on_retry(RetryEvent(method=method, url=url, attempt=attempt + 1, delay=delay, status=status,
                                     retry_after=retry_after, idempotency_key=idempotency_key, error=error))
        time.sleep(delay)


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        # Amounts are strings in the API; any other number still never becomes a float.
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        return None


def _query_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _json_default(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")
