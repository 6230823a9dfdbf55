"""Keyset pages: every list is walked by a time-ordered id, never by OFFSET."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 20
# How deep search results page (their order is not a keyset: a position is a rank in them).
MAX_SEARCH_RESULTS = 200


@dataclass(frozen=True)
class Page:
    """`entries` are (position, item id) pairs, newest first; position is the keyset cursor."""

    entries: list[tuple[int, int]]
    has_next: bool
    has_previous: bool = False

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int]], first: int) -> Page:
        return cls(entries=rows[:first], has_next=len(rows) > first)

    @classmethod
    def from_rows_backward(
        cls, rows: list[tuple[int, int]], last: int, *, before: int | None
    ) -> Page:
        """`rows` read away from the cursor (the entries just before `before` in the list's
        order, nearest first, one more than `last`): the page in the list's order, and whether
        more come before it. Entries after it exist when it was read before a cursor."""
        return cls(
            entries=rows[:last][::-1], has_next=before is not None, has_previous=len(rows) > last
        )

    @property
    def ids(self) -> list[int]:
        return [item for _, item in self.entries]
