"""The base of the generated models, and the decimal helper for amounts."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Optional, overload

if TYPE_CHECKING:
    from ._response import Response


class Model:
    """A Tok API object. ``http_response`` is the response it came in (None for nested objects)."""

    _http_response: Optional[Response] = None

    @property
    def http_response(self) -> Optional[Response]:
        return self._http_response


@overload
def to_decimal(value: str) -> Decimal: ...
@overload
def to_decimal(value: None) -> None: ...
def to_decimal(value: Optional[str]) -> Optional[Decimal]:
    """An amount string of the API ("5000.0000") as a decimal.Decimal, exactly; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"amounts are strings, not {type(value).__name__}")
    try:
        return Decimal(value)
    except InvalidOperation as e:
        raise ValueError(f"not a decimal amount: {value!r}") from e
