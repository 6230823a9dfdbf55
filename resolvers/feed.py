"""The home feed query, and keeping feeds in step with posts and follows."""

from __future__ import annotations

from domain.feed import service as feed
from domain.pagination import Page
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import page_arguments
from workers.queues import enqueue_fanout, enqueue_feed_refresh


async def home(ctx: Context, first: int | None, after: str | None) -> Page:
    if ctx.viewer_id is None:
        raise ClientError("Sign in to see your feed.", code="UNAUTHENTICATED")
    limit, position = page_arguments(first, after)
    page = await feed.read_page(
        viewer_id=ctx.viewer_id, first=limit, after=position, stores=ctx.runtime.feed_stores
    )
    # The page's posts are loaded already: hand them to the request's loader.
    ctx.loaders.post.prime_many({p.id: p for p in page.posts})
    return Page([(p.id, p.id) for p in page.posts], page.has_next)


async def post_created(ctx: Context, *, author_id: int, post_id: int) -> None:
    """The post is committed: it is in its author's own feed now, in followers' by a job."""
    await ctx.runtime.feeds.insert([author_id], post_id)
    await enqueue_fanout(ctx.runtime.jobs, post_id=post_id)


async def post_deleted(ctx: Context, *, author_id: int, post_id: int) -> None:
    # Feeds drop it at read time already; the author's pull list must not offer it again.
    await ctx.runtime.feeds.forget_author_post(author_id, post_id)


async def follows_changed(ctx: Context, *user_ids: int) -> None:
    """Whom these users follow changed: rebuild their feeds (backfill, or clean-up)."""
    await enqueue_feed_refresh(ctx.runtime.jobs, user_ids=list(user_ids))
