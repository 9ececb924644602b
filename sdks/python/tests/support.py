"""What the Go driver (sdks/sdktest) sets up in the local stack for these tests. A missing
variable fails the tests: they never skip."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
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

    @staticmethod
    def without_limits(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The log without the stack's 429s: a request that reaches Tok may meet a burst
        that the tests before it spent, and the SDK waits that out like any 429 (tested on
        its own)."""
        return [r for r in log if r["status"] != 429]


def envelope(code: str) -> str:
    """A Tok error envelope for an injected answer."""
    return json.dumps({"error": {"code": code, "message": "injected by the test", "requestId": "req_01J0000000000000000000FAKE"}})


def webhook_fixtures() -> list[dict[str, Any]]:
    with open(env("TOK_WEBHOOK_FIXTURES"), encoding="utf-8") as f:
        return json.load(f)


def fixtures_signed_at() -> float:
    """When the fixtures were signed: their timestamps are relative to it."""
    return os.stat(env("TOK_WEBHOOK_FIXTURES")).st_mtime


class Walked:
    """Where the customer's browser went (sdks/sdktest/psu.go): the pages opened and the
    callbackUrl Tok sent it back to, with that URL's query."""

    def __init__(self, pages: list[str], callback: str):
        self.pages = pages
        self.callback = callback
        self.query = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query).items()}


def psu(**walk: str) -> Walked:
    """Walks a redirectUrl as the customer: Tok's hosted pages when it is one (``country``,
    ``bankId``), the sandbox bank's SCA as demo, Tok's callback."""
    req = urllib.request.Request(env("TOK_PSU_URL"), data=json.dumps(walk).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:
        raise AssertionError(f"the walk failed: {e.read().decode()}") from e
    return Walked(body["pages"], body["callback"])


def spec_operations() -> list[dict[str, Any]]:
    """The spec's operations (sdks/sdktest/operations.go): operationId, method, path, apiKey."""
    with open(env("TOK_SPEC_OPERATIONS"), encoding="utf-8") as f:
        return json.load(f)
