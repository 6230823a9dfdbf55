"""Relay connections: one generic Connection and Edge for every list.

`Connection[Post]` is `PostConnection` in the schema and its edges `PostEdge` (Strawberry names
a generic by its type argument); a list with fields of its own subclasses it
(`ThreadConnection(Connection[Thread])` adds `unreadCount`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Self, TypeVar

import strawberry

from domain.pagination import Page
from resolvers.global_ids import to_cursor

NodeT = TypeVar("NodeT")


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
            has_previous_page=page.has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        default=None,
        description="How many there are in all, where that is exact and costs nothing (an"
        " account's followers, following and posts, from its counters); null elsewhere.",
    )

    @classmethod
    def of(cls, page: Page, nodes: Sequence[NodeT | None], *, total: int | None = None) -> Self:
        """The page with one node per entry, in order; an entry whose node is None (gone since
        the page was read, or not visible) is left out. The page info is the page's own, so a
        cursor never skips the entries left out."""
        edges = [
            Edge(cursor=to_cursor(position), node=node)
            for (position, _), node in zip(page.entries, nodes, strict=True)
            if node is not None
        ]
        return cls(edges=edges, page_info=PageInfo.of(page), total_count=total)

    @classmethod
    def of_cursors(
        cls, cursors: Sequence[str], nodes: Sequence[NodeT | None], *, has_next: bool
    ) -> Self:
        """Nodes read whole already, each with its cursor (the feed); a None node is left out,
        and the page info is still the page's own."""
        edges = [Edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True) if n]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=False,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
        )
