"""What a response said besides its body."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Optional


@dataclass(frozen=True)
class RateLimit:
    """The organisation's rate-limit state, from the X-RateLimit-* headers."""

    limit: int
    """Requests per minute the tier allows."""
    remaining: int
    """Requests left in the current window."""
    reset: int
    """Unix time (seconds) at which the bucket is full again."""


@dataclass(frozen=True)
class Response:
    """The status and headers of an API response; every result carries one."""

    status: int
    headers: Message
    """Case-insensitive: ``headers["x-request-id"]``."""
    retries: int = 0
    """How many times the request was retried before this response."""

    @property
    def request_id(self) -> Optional[str]:
        return self.headers.get("X-Request-Id")

    @property
    def rate_limit(self) -> Optional[RateLimit]:
        values = [_int(self.headers.get(h)) for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")]
        if any(v is None for v in values):
            return None
        limit, remaining, reset = values
        assert limit is not None and remaining is not None and reset is not None
        return RateLimit(limit=limit, remaining=remaining, reset=reset)

    @property
    def retry_after(self) -> Optional[int]:
        """Retry-After in seconds, or None."""
        return _int(self.headers.get("Retry-After"))

    @property
    def idempotent_replayed(self) -> bool:
        """True when an Idempotency-Key replay answered the first response again."""
        return str(self.headers.get("Idempotent-Replayed", "")) == "true"


def _int(v: Optional[str]) -> Optional[int]:
    if v is None or not v.strip().isdigit():
        return None
    return int(v)
