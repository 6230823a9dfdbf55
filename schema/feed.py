"""The home feed."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers import feed as resolve
from resolvers.context import Info
from schema.post import PostConnection


@strawberry.enum(
    description="RANKED uses the ranking job's scores where they exist and recency "
    "otherwise (no ranking scores are written yet, so today it is recency); "
    "CHRONOLOGICAL is strictly newest first."
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
    ) -> PostConnection:
        page = await resolve.home(info.context, first, after)
        return await PostConnection.of(info, page)
