"""The home feed."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers import feed as resolve
from resolvers.context import Info
from schema.pagination import Connection
from schema.posts import Post, build_posts


@strawberry.enum(
    description="RANKED: the newest few hundred posts by the ranking job's scores "
    "(engagement, how much you interact with the author, freshness), then newest first; "
    "newest first until the first ranking is ready. CHRONOLOGICAL: strictly newest first."
)
class FeedOrder(Enum):
    RANKED = "RANKED"
    CHRONOLOGICAL = "CHRONOLOGICAL"


@strawberry.type
class FeedQuery:
    @strawberry.field(
        description="The viewer's home feed: posts of everyone they follow and "
        "their own, ready before it is asked for; it never ends."
    )
    async def feed(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        order: FeedOrder = FeedOrder.RANKED,
    ) -> Connection[Post]:
        page, cursors = await resolve.home(
            info.context, first, after, ranked=order is FeedOrder.RANKED
        )
        posts = await build_posts(info, page.posts, authors=page.authors, media=page.media)
        return Connection.of_cursors(cursors, posts, has_next=page.has_next)
