"""The home feed query, and keeping feeds in step with posts and follows."""

from __future__ import annotations

from domain.feed import service as feed
from domain.feed.store import Position
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import ranked_page_arguments, to_cursor, to_ranked_cursor
from workers.queues import enqueue_fanout, enqueue_feed_refresh, enqueue_ranking


async def home(
    ctx: Context, first: int | None, after: str | None, *, ranked: bool
) -> tuple[feed.FeedPage, list[str]]:
    """A page of the viewer's feed and its cursors."""
    if ctx.viewer_id is None:
        raise ClientError("Sign in to see your feed.", code="UNAUTHENTICATED")
    limit, position = ranked_page_arguments(first, after)
    page = await feed.read_page(
        viewer_id=ctx.viewer_id,
        first=limit,
        after=None if position is None else Position(position[1], position[0]),
        stores=ctx.runtime.feed_stores,
        ranked=ranked,
    )
    if page.wants_ranking:
        await enqueue_ranking(ctx.runtime.jobs, user_id=ctx.viewer_id)
    # The page's posts and authors are loaded already: hand them to the request's loaders.
    ctx.loaders.prime(ctx.loaders.post, {p.id: p for p in page.posts})
    ctx.loaders.prime(ctx.loaders.user, page.authors)
    cursors = [
        to_cursor(p.post_id) if p.score is None else to_ranked_cursor(p.score, p.post_id)
        for p in page.positions
    ]
    return page, cursors


async def post_created(ctx: Context, *, author_id: int, post_id: int) -> None:
    """The post is committed: it is in its author's own feed now, in followers' by a job.
    The author sees it on top at once in RANKED too: their snapshot is dropped, so the next
    read is newest first and asks for a new ranking."""
    await ctx.runtime.feeds.insert([author_id], post_id, author_id)
    await ctx.runtime.feeds.drop_ranking(author_id)
    await enqueue_fanout(ctx.runtime.jobs, post_id=post_id)


async def post_deleted(ctx: Context, *, author_id: int, post_id: int) -> None:
    # Feeds drop it at read time already; the author's pull list must not offer it again.
    await ctx.runtime.feeds.forget_author_post(author_id, post_id)


async def follows_changed(ctx: Context, *user_ids: int) -> None:
    """Whom these users follow changed: rebuild their feeds (backfill, or clean-up)."""
    await enqueue_feed_refresh(ctx.runtime.jobs, user_ids=list(user_ids))
