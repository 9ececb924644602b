"""Verifying webhooks per the Standard Webhooks spec."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any, Mapping, Optional, Sequence, Union

from .models import Event, event_from_dict

WEBHOOK_TOLERANCE_SECONDS = 5 * 60
"""How far a webhook's timestamp may be from the receiver's clock."""


class WebhookVerificationError(Exception):
    """A webhook that failed verification: do not process it, answer 400."""


def verify_webhook(payload: Union[bytes, str], headers: Mapping[str, Any], secret: Union[str, Sequence[str]], *,
                   tolerance: int = WEBHOOK_TOLERANCE_SECONDS, now: Optional[float] = None) -> Event:
    """Verifies a Tok webhook and returns its event.

    ``payload`` is the raw request body exactly as received (never re-serialised JSON);
    ``headers`` the request's headers (any mapping; names are matched ignoring case);
    ``secret`` the endpoint's ``whsec_…`` signing secret, or several during a rotation. A
    delivery carries one signature per active secret; one matching is enough. ``now`` is
    the receiver's clock in Unix seconds (default the system clock).
    """
    lower = {str(k).lower(): v for k, v in headers.items()}
    msg_id, timestamp, signatures = (lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not timestamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not str(timestamp).isdigit():
        raise WebhookVerificationError("webhook-timestamp is not Unix seconds")
    ts = int(timestamp)
    clock = int(time.time() if now is None else now)
    if ts < clock - tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old")
    if ts > clock + tolerance:
        raise WebhookVerificationError("webhook-timestamp is in the future")

    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    secrets = [secret] if isinstance(secret, str) else list(secret)
    expected = [hmac.new(_key(s), signed, hashlib.sha256).digest() for s in secrets]
    for sig in str(signatures).split(" "):
        version, _, value = sig.partition(",")
        if version != "v1" or not value:
            continue
        try:
            got = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(e, got) for e in expected):
            try:
                return event_from_dict(json.loads(body, parse_float=Decimal))
            except (ValueError, AttributeError, KeyError) as e:
                raise WebhookVerificationError("the payload is not a JSON event of a known type") from e
    raise WebhookVerificationError("no webhook-signature matches the secret")


def _key(secret: str) -> bytes:
    raw = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise WebhookVerificationError("the signing secret is not whsec_<base64>")
    return key
