"""Finding users and walking the follow graph, as the viewer may see it."""

from __future__ import annotations

from domain.errors import ErrorCode, not_found
from domain.graph import flows
from domain.graph import service as graph
from domain.graph.models import FollowStatus
from domain.graph.visibility import may_see_graph
from domain.pagination import Page
from domain.users.store import UserView
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import id_input, page_arguments


async def visible_user(ctx: Context, user_id: int) -> UserView | None:
    """The user, unless missing or on either side of a block with the viewer."""
    view = await ctx.loaders.user.load(user_id)
    if view is None or await ctx.loaders.blocked_with_viewer.load(user_id):
        return None
    return view


async def by_username(ctx: Context, username: str) -> UserView | None:
    user_id = await ctx.runtime.users.id_for_username(username.strip())
    return None if user_id is None else await visible_user(ctx, user_id)


async def viewer(ctx: Context) -> UserView | None:
    return None if ctx.viewer_id is None else await ctx.loaders.user.load(ctx.viewer_id)


async def can_see_graph(ctx: Context, user: UserView) -> bool:
    """The visibility rule for followers and following (domain/graph/visibility)."""
    status = (
        await ctx.loaders.viewer_follow_status.load(user.id)
        if user.is_private and ctx.viewer_id != user.id
        else None
    )
    return may_see_graph(
        viewer_id=ctx.viewer_id,
        user_id=user.id,
        user_private=user.is_private,
        viewer_follow_status=status,
    )


async def followers(ctx: Context, user: UserView, first: int | None, after: str | None) -> Page:
    limit, position = page_arguments(first, after)
    if not await can_see_graph(ctx, user):
        return Page([], False)
    return await graph.list_followers(
        user_id=user.id, viewer_id=ctx.viewer_id, first=limit, after=position
    )


async def following(ctx: Context, user: UserView, first: int | None, after: str | None) -> Page:
    limit, position = page_arguments(first, after)
    if not await can_see_graph(ctx, user):
        return Page([], False)
    return await graph.list_following(
        user_id=user.id, viewer_id=ctx.viewer_id, first=limit, after=position
    )


async def follow_requests(
    ctx: Context, user: UserView, first: int | None, after: str | None
) -> Page:
    limit, position = page_arguments(first, after)
    if ctx.viewer_id != user.id:
        raise ClientError(
            "Only the account's owner can see its follow requests.", code=ErrorCode.FORBIDDEN
        )
    return await graph.list_follow_requests(user_id=user.id, first=limit, after=position)


def search_query(query: str) -> str:
    if len(query) > 100:
        raise ClientError("'query' is limited to 100 characters.")
    return query


async def search(ctx: Context, query: str, first: int | None, after: str | None) -> Page:
    limit, position = page_arguments(first, after)
    return await graph.search_users(
        prefix=search_query(query), viewer_id=ctx.viewer_id, first=limit, after=position
    )


# Mutations: each returns the user acted on, re-read after the write.


async def target_user(ctx: Context, global_id: str) -> int:
    """The account a graph mutation acts on. One that blocked the viewer is not there for
    them, as an unknown id is not (or unfollow and unblock would say it exists)."""
    user_id = id_input(global_id, "User", field="userId")
    if await ctx.loaders.user.load(user_id) is None:
        raise not_found("user", field="userId")
    if ctx.viewer_id is not None and user_id != ctx.viewer_id:
        _, blocked_by = await graph.block_between(ctx.viewer_id, user_id)
        if blocked_by:
            raise not_found("user", field="userId")
    return user_id


async def _reread(ctx: Context, user_id: int) -> UserView | None:
    ctx.loaders.forget(user_id, *([ctx.viewer_id] if ctx.viewer_id else []))
    return await visible_user(ctx, user_id)


async def follow(ctx: Context, global_id: str) -> tuple[FollowStatus, UserView | None]:
    viewer_id = ctx.signed_in()
    user_id = await target_user(ctx, global_id)
    async with ctx.spending("follow"):
        status = await flows.follow(
            follower_id=viewer_id,
            followee_id=user_id,
            users=ctx.runtime.users,
            ports=ctx.runtime.ports,
        )
    return status, await _reread(ctx, user_id)


async def unfollow(ctx: Context, global_id: str) -> UserView | None:
    viewer_id = ctx.signed_in()
    user_id = await target_user(ctx, global_id)
    await flows.unfollow(
        follower_id=viewer_id, followee_id=user_id, users=ctx.runtime.users, ports=ctx.runtime.ports
    )
    return await _reread(ctx, user_id)


async def approve_request(ctx: Context, global_id: str) -> UserView | None:
    viewer_id = ctx.signed_in()
    user_id = await target_user(ctx, global_id)
    await flows.approve_request(
        owner_id=viewer_id, requester_id=user_id, users=ctx.runtime.users, ports=ctx.runtime.ports
    )
    return await _reread(ctx, user_id)


async def reject_request(ctx: Context, global_id: str) -> UserView | None:
    viewer_id = ctx.signed_in()
    user_id = await target_user(ctx, global_id)
    await graph.reject_request(owner_id=viewer_id, requester_id=user_id)
    return await _reread(ctx, user_id)


async def remove_follower(ctx: Context, global_id: str) -> UserView | None:
    viewer_id = ctx.signed_in()
    user_id = await target_user(ctx, global_id)
    await flows.remove_follower(
        owner_id=viewer_id, follower_id=user_id, users=ctx.runtime.users, ports=ctx.runtime.ports
    )
    return await _reread(ctx, user_id)


async def block(ctx: Context, global_id: str) -> None:
    viewer_id = ctx.signed_in()
    user_id = await target_user(ctx, global_id)
    await flows.block(
        blocker_id=viewer_id, blocked_id=user_id, users=ctx.runtime.users, ports=ctx.runtime.ports
    )


async def unblock(ctx: Context, global_id: str) -> UserView | None:
    viewer_id = ctx.signed_in()
    user_id = await target_user(ctx, global_id)
    await graph.unblock(blocker_id=viewer_id, blocked_id=user_id)
    return await _reread(ctx, user_id)
