"""Account flows that write more than once."""

from __future__ import annotations

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.errors import DomainError
from domain.graph import service as graph
from domain.ports import Ports
from domain.posts import flows as post_flows
from domain.posts import service as posts
from domain.posts.service import Stores
from domain.users import lifecycle, service
from domain.users.store import UserStore


async def update_profile(
    *,
    user_id: int,
    users: UserStore,
    ports: Ports,
    full_name: str | None = None,
    bio: str | None = None,
    is_private: bool | None = None,
    avatar_media_id: int | None = None,
    remove_avatar: bool = False,
) -> None:
    """Change the profile; going public approves every waiting request, and the feeds of
    those it approved are rebuilt with the account's posts."""
    approved = await service.update_profile(
        user_id=user_id,
        users=users,
        full_name=full_name,
        bio=bio,
        is_private=is_private,
        avatar_media_id=avatar_media_id,
        remove_avatar=remove_avatar,
    )
    if approved:
        await ports.jobs.refresh_feeds(user_ids=approved)


async def delete_account(*, user_id: int, password: str, users: UserStore, ports: Ports) -> None:
    """Anonymised and signed out at once; everything else of it removed by the purge job."""
    await lifecycle.delete(user_id=user_id, password=password, users=users)
    await ports.jobs.purge_account(user_id=user_id)


async def delete_expired_deactivations(*, stores: Stores, ports: Ports) -> int:
    """Accounts deactivated longer than the window are deleted (by the default worker's cron)."""
    expired = await lifecycle.expired_deactivations()
    for user_id in expired:
        async with in_transaction() as conn:
            await lifecycle.anonymise(conn, user_id)
        await stores.users.invalidate(user_id)
        await ports.jobs.purge_account(user_id=user_id)
    return len(expired)


async def _ids(sql: str, user_id: int) -> list[int]:
    rows = await connections.get("default").execute_query_dict(sql, [user_id])
    return [int(r["id"]) for r in rows]


async def purge_account(*, user_id: int, stores: Stores, ports: Ports) -> int:
    """Remove what a deleted account left: posts (and their files), comments, likes, saves,
    follows both ways, blocks, notifications and media, each through the action that undoes
    it (so counters and caches follow). Idempotent: a second run finds nothing left. Its
    messages stay in their threads, from a sender that reads as null. Returns how many things
    it removed."""
    done = 0
    for post_id in await _ids(
        "/* purge.posts */ SELECT id FROM posts WHERE author_id = $1", user_id
    ):
        await post_flows.delete_post(post_id=post_id, viewer_id=user_id, stores=stores, ports=ports)
        done += 1
    for comment_id in await _ids(
        "/* purge.comments */ SELECT id FROM comments WHERE author_id = $1", user_id
    ):
        try:
            await posts.delete_comment(comment_id=comment_id, viewer_id=user_id, stores=stores)
        except DomainError:  # went with its top-level comment a moment ago
            continue
        done += 1
    for post_id in await _ids(
        "/* purge.likes */ SELECT post_id AS id FROM likes WHERE user_id = $1", user_id
    ):
        await posts.set_like(user_id=user_id, post_id=post_id, liked=False, redis=stores.redis)
        done += 1
    for comment_id in await _ids(
        "/* purge.comment_likes */ SELECT comment_id AS id FROM comment_likes WHERE user_id = $1",
        user_id,
    ):
        await posts.set_comment_like(
            user_id=user_id, comment_id=comment_id, liked=False, redis=stores.redis
        )
        done += 1
    for post_id in await _ids(
        "/* purge.saves */ SELECT post_id AS id FROM saves WHERE user_id = $1", user_id
    ):
        await posts.set_save(user_id=user_id, post_id=post_id, saved=False, redis=stores.redis)
        done += 1
    for followee in await _ids(
        "/* purge.following */ SELECT followee_id AS id FROM follows WHERE follower_id = $1",
        user_id,
    ):
        await graph.unfollow(follower_id=user_id, followee_id=followee, users=stores.users)
        done += 1
    for follower in await _ids(
        "/* purge.followers */ SELECT follower_id AS id FROM follows WHERE followee_id = $1",
        user_id,
    ):
        await graph.remove_follower(owner_id=user_id, follower_id=follower, users=stores.users)
        done += 1
    conn = connections.get("default")
    for sql in (
        "/* purge.blocks */ DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1"
        " RETURNING id",
        "/* purge.highlight_stories */ DELETE FROM highlight_stories WHERE highlight_id IN"
        " (SELECT id FROM highlights WHERE owner_id = $1) RETURNING id",
        "/* purge.highlights */ DELETE FROM highlights WHERE owner_id = $1 RETURNING id",
        "/* purge.story_views */ DELETE FROM story_views WHERE viewer_id = $1 OR story_id IN"
        " (SELECT id FROM stories WHERE author_id = $1) RETURNING id",
        "/* purge.stories */ DELETE FROM stories WHERE author_id = $1 RETURNING id",
        "/* purge.close_friends */ DELETE FROM close_friends WHERE owner_id = $1"
        " OR friend_id = $1 RETURNING id",
        "/* purge.notifications */ DELETE FROM notifications WHERE user_id = $1"
        " OR actor_ids = jsonb_build_array($1::bigint) RETURNING id",
    ):
        done += len(await conn.execute_query_dict(sql, [user_id]))
    media_ids = await _ids("/* purge.media */ SELECT id FROM media WHERE owner_id = $1", user_id)
    await ports.jobs.delete_media(media_ids=media_ids)
    await stores.feeds.drop_feed(user_id)
    await stores.users.invalidate(user_id)
    return done + len(media_ids)
