"""Explore: the viewer's ranked posts from outside their graph."""

from __future__ import annotations

from domain.pagination import Page
from domain.ranking import explore
from resolvers.context import Context
from resolvers.global_ids import page_arguments


async def page(ctx: Context, first: int | None, after: str | None) -> Page:
    viewer = ctx.require_viewer()
    limit, position = page_arguments(first, after)

    async def refresh() -> None:
        await ctx.runtime.ports.jobs.rank_explore(user_id=viewer)

    found = await explore.page(
        user_id=viewer, first=limit, after=position, redis=ctx.runtime.redis, refresh=refresh
    )
    ctx.ranking_model = found.version
    return found.page
