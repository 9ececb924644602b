"""What the Go driver (sdks/sdktest) sets up in the local stack for these tests. A missing
variable fails the tests: they never skip."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from typing import Any

AMOUNT = re.compile(r"^-?[0-9]+\.[0-9]{4}$")


def env(name: str) -> str:
    v = os.environ.get(name)
    if not v:
        raise AssertionError(f"{name} is not set: run these tests through sdks/sdktest (make test)")
    return v


def _fault(method: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(env("TOK_FAULT_CONTROL"), data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


class faults:
    """The fault proxy's control API (see sdks/sdktest/faults.go)."""

    @staticmethod
    def reset() -> None:
        _fault("DELETE")

    @staticmethod
    def add(**fault: Any) -> None:
        _fault("POST", fault)

    @staticmethod
    def log() -> list[dict[str, Any]]:
        return _fault("GET")


def envelope(code: str) -> str:
    """A Tok error envelope for an injected answer."""
    return json.dumps({"error": {"code": code, "message": "injected by the test", "requestId": "req_01J0000000000000000000FAKE"}})


def webhook_fixtures() -> list[dict[str, Any]]:
    with open(env("TOK_WEBHOOK_FIXTURES"), encoding="utf-8") as f:
        return json.load(f)


def fixtures_signed_at() -> float:
    """When the fixtures were signed: their timestamps are relative to it."""
    return os.stat(env("TOK_WEBHOOK_FIXTURES")).st_mtime
