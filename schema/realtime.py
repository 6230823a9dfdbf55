"""The Subscription root."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import realtime as resolve
from resolvers.context import Info
from schema.media import Media


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="A media item's status as it moves: PROCESSING, then "
        "READY or FAILED (then the subscription ends)."
    )
    async def media_processed(
        self, info: Info, media_id: strawberry.ID
    ) -> AsyncGenerator[Media, None]:
        async for view in resolve.media_processed(info.context, media_id):
            yield Media.from_view(view)
