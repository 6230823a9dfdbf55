"""The home feed query."""

from __future__ import annotations

from domain.errors import ErrorCode
from domain.feed import flows
from domain.feed.service import FeedPage
from domain.feed.store import Position
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import ranked_page_arguments, to_cursor, to_ranked_cursor


async def home(
    ctx: Context, first: int | None, after: str | None, *, ranked: bool
) -> tuple[FeedPage, list[str]]:
    """A page of the viewer's feed and its cursors."""
    if ctx.viewer_id is None:
        raise ClientError("Sign in to see your feed.", code=ErrorCode.UNAUTHENTICATED)
    limit, position = ranked_page_arguments(first, after)
    page = await flows.read_home(
        viewer_id=ctx.viewer_id,
        first=limit,
        after=None if position is None else Position(position[1], position[0]),
        ranked=ranked,
        stores=ctx.runtime.feed_stores,
        ports=ctx.runtime.ports,
    )
    # The page's posts and authors are loaded already: hand them to the request's loaders.
    ctx.loaders.prime(ctx.loaders.post, {p.id: p for p in page.posts})
    ctx.loaders.prime(ctx.loaders.user, page.authors)
    cursors = [
        to_cursor(p.post_id) if p.score is None else to_ranked_cursor(p.score, p.post_id)
        for p in page.positions
    ]
    return page, cursors
