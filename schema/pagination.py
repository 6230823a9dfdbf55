"""Relay connection pieces shared by every list."""

from __future__ import annotations

import strawberry

from domain.pagination import Page
from resolvers.global_ids import to_cursor


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page) -> PageInfo:
        cursors = [to_cursor(position) for position, _ in page.entries]
        return cls(
            has_next_page=page.has_next,
            has_previous_page=False,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )
