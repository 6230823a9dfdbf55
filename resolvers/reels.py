"""The reels feed, the view log and not-interested marks."""

from __future__ import annotations

from domain.errors import not_found
from domain.pagination import Page
from domain.reels import service as reels
from domain.reels.models import Surface
from resolvers.context import Context
from resolvers.global_ids import id_input, page_arguments, parse_global_id
from resolvers.posts import visible_post


async def page(ctx: Context, first: int | None, after: str | None) -> Page:
    viewer = ctx.require_viewer()
    limit, position = page_arguments(first, after)
    return await reels.page(
        user_id=viewer,
        first=limit,
        after=position,
        redis=ctx.runtime.redis,
        reads=ctx.runtime.reads,
        served=ctx.runtime.ranking,
    )


def _post_id(global_id: str) -> int | None:
    try:
        type_name, raw = parse_global_id(global_id)
    except ValueError:
        return None
    return raw if type_name == "Post" else None


async def log_views(
    ctx: Context, *, batch_id: str, events: list[tuple[str, int, bool, Surface]]
) -> reels.Logged:
    viewer = ctx.signed_in()
    return await reels.log_views(
        user_id=viewer,
        batch_id=batch_id,
        events=[
            reels.ViewInput(_post_id(post), watched, completed, surface)
            for post, watched, completed, surface in events
        ],
        redis=ctx.runtime.redis,
    )


async def not_interested(ctx: Context, *, post_id: str) -> str:
    viewer = ctx.signed_in()
    raw = id_input(post_id, "Post", field="postId")
    if await visible_post(ctx, raw) is None:
        raise not_found("post", field="postId")
    await reels.not_interested(user_id=viewer, post_id=raw, redis=ctx.runtime.redis)
    return post_id
