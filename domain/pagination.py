"""Keyset pages: every list is walked by a time-ordered id, never by OFFSET."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class Page:
    """`entries` are (position, item id) pairs, newest first; position is the keyset cursor."""

    entries: list[tuple[int, int]]
    has_next: bool

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int]], first: int) -> Page:
        return cls(entries=rows[:first], has_next=len(rows) > first)

    @property
    def ids(self) -> list[int]:
        return [item for _, item in self.entries]
