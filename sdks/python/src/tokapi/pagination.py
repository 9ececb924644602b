"""One page of a list, and the generators that walk every page by ``nextCursor``."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, Optional, Sequence, TypeVar, overload

from ._response import Response

T = TypeVar("T")


class Page(Sequence[T], Generic[T]):
    """One page of a list: a sequence of its items (``page[0]``, ``len(page)``, ``for x in
    page``) with ``has_more`` and ``next_cursor``. ``iter_all()`` is a generator over every item
    of this page and the pages after it."""

    def __init__(self, data: list[T], has_more: bool, next_cursor: Optional[str], http_response: Response,
                 fetch: Callable[[str], Page[T]]):
        self.data = data
        self.has_more = has_more
        self.next_cursor = next_cursor
        self.http_response = http_response
        self._fetch = fetch

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        return self.data[i]

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"Page({len(self.data)} items, has_more={self.has_more})"

    def next_page(self) -> Optional[Page[T]]:
        """The page after this one, or None at the end."""
        if not self.has_more or not self.next_cursor:
            return None
        return self._fetch(self.next_cursor)

    def pages(self) -> Iterator[Page[T]]:
        """This page and every page after it, fetched as the generator advances."""
        page: Optional[Page[T]] = self
        while page is not None:
            yield page
            page = page.next_page()

    def iter_all(self) -> Iterator[T]:
        """Every item of this page and of the pages after it, fetched as the generator advances."""
        for page in self.pages():
            yield from page.data
