"""Follows, follow requests and blocks.

Counts on `users` move in the same transaction as the follow rows, so they are always exact and a
read never counts. Every write is idempotent: following twice, unfollowing someone not followed,
blocking twice all leave one consistent state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode, not_found
from domain.graph.models import FollowStatus
from domain.graph.visibility import not_blocked_sql
from domain.ids import MAX_ID, next_id
from domain.pagination import MAX_SEARCH_RESULTS, Page
from domain.users.store import UserStore


async def _adjust_counts(
    conn: BaseDBAsyncClient, *, follower_id: int, followee_id: int, delta: int
) -> None:
    await conn.execute_query(
        "/* graph.adjust_counts */ UPDATE users SET"
        " following_count = following_count + CASE WHEN id = $1 THEN $3 ELSE 0 END,"
        " follower_count = follower_count + CASE WHEN id = $2 THEN $3 ELSE 0 END"
        " WHERE id IN ($1, $2)",
        [follower_id, followee_id, delta],
    )


async def _existing_user(conn: BaseDBAsyncClient, user_id: int) -> dict[str, object] | None:
    rows = await conn.execute_query_dict(
        "/* graph.user_for_update */ SELECT id, is_private FROM users WHERE id = $1"
        " AND status = 'ACTIVE' FOR SHARE",
        [user_id],
    )
    return rows[0] if rows else None


async def block_between(viewer_id: int, other_id: int) -> tuple[bool, bool]:
    """(viewer blocked other, other blocked viewer)."""
    rows = await connections.get("default").execute_query_dict(
        "/* graph.block_between */ SELECT blocker_id FROM blocks"
        " WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)",
        [viewer_id, other_id],
    )
    blockers = {row["blocker_id"] for row in rows}
    return viewer_id in blockers, other_id in blockers


@dataclass(frozen=True)
class Followed:
    status: FollowStatus
    follow_id: int  # the follow's row: a new one for a follow after an unfollow


async def follow(*, follower_id: int, followee_id: int, users: UserStore) -> Followed:
    """Follow, or ask to follow a private account; following again changes nothing."""
    if follower_id == followee_id:
        raise DomainError(
            ErrorCode.CANNOT_FOLLOW_SELF, "You cannot follow yourself.", field="userId"
        )
    viewer_blocked, blocked_by = await block_between(follower_id, followee_id)
    if blocked_by:
        raise not_found("user", field="userId")  # to them, the blocker does not exist
    if viewer_blocked:
        raise DomainError(
            ErrorCode.BLOCKED, "You blocked this account; unblock it to follow.", field="userId"
        )
    async with in_transaction() as conn:
        target = await _existing_user(conn, followee_id)
        if target is None:
            raise not_found("user", field="userId")
        status = FollowStatus.PENDING if target["is_private"] else FollowStatus.ACTIVE
        inserted = await conn.execute_query_dict(
            "/* graph.follow */ INSERT INTO follows (id, follower_id, followee_id, status,"
            " created_at) VALUES ($1, $2, $3, $4, now())"
            " ON CONFLICT (follower_id, followee_id) DO NOTHING RETURNING id",
            [next_id(), follower_id, followee_id, status.value],
        )
        if not inserted:
            existing = await conn.execute_query_dict(
                "/* graph.follow_status */ SELECT id, status FROM follows"
                " WHERE follower_id = $1 AND followee_id = $2",
                [follower_id, followee_id],
            )
            return Followed(FollowStatus(existing[0]["status"]), int(existing[0]["id"]))
        if status is FollowStatus.ACTIVE:
            await _adjust_counts(conn, follower_id=follower_id, followee_id=followee_id, delta=1)
    if status is FollowStatus.ACTIVE:
        await users.invalidate(follower_id, followee_id)
    return Followed(status, int(inserted[0]["id"]))


async def _remove_follow(
    conn: BaseDBAsyncClient, *, follower_id: int, followee_id: int, only_pending: bool = False
) -> FollowStatus | None:
    condition = " AND status = 'PENDING'" if only_pending else ""
    rows = await conn.execute_query_dict(
        "/* graph.unfollow */ DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2"
        f"{condition} RETURNING status",
        [follower_id, followee_id],
    )
    if not rows:
        return None
    status = FollowStatus(rows[0]["status"])
    if status is FollowStatus.ACTIVE:
        await _adjust_counts(conn, follower_id=follower_id, followee_id=followee_id, delta=-1)
    return status


async def unfollow(*, follower_id: int, followee_id: int, users: UserStore) -> None:
    """Stop following, or withdraw a pending request. Unfollowing a stranger is a no-op."""
    async with in_transaction() as conn:
        removed = await _remove_follow(conn, follower_id=follower_id, followee_id=followee_id)
    if removed is FollowStatus.ACTIVE:
        await users.invalidate(follower_id, followee_id)


async def approve_request(*, owner_id: int, requester_id: int, users: UserStore) -> None:
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "/* graph.approve */ UPDATE follows SET status = 'ACTIVE'"
            " WHERE follower_id = $1 AND followee_id = $2 AND status = 'PENDING' RETURNING id",
            [requester_id, owner_id],
        )
        if not rows:
            raise DomainError(
                ErrorCode.NOT_FOUND, "There is no follow request from this user.", field="userId"
            )
        await _adjust_counts(conn, follower_id=requester_id, followee_id=owner_id, delta=1)
    await users.invalidate(owner_id, requester_id)


async def reject_request(*, owner_id: int, requester_id: int) -> None:
    async with in_transaction() as conn:
        removed = await _remove_follow(
            conn, follower_id=requester_id, followee_id=owner_id, only_pending=True
        )
    if removed is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "There is no follow request from this user.", field="userId"
        )


async def remove_follower(*, owner_id: int, follower_id: int, users: UserStore) -> None:
    """Drop someone from your followers (for a private account: they lose access at once)."""
    async with in_transaction() as conn:
        removed = await _remove_follow(conn, follower_id=follower_id, followee_id=owner_id)
    if removed is FollowStatus.ACTIVE:
        await users.invalidate(owner_id, follower_id)


async def block(*, blocker_id: int, blocked_id: int, users: UserStore) -> None:
    if blocker_id == blocked_id:
        raise DomainError(ErrorCode.CANNOT_BLOCK_SELF, "You cannot block yourself.", field="userId")
    async with in_transaction() as conn:
        if await _existing_user(conn, blocked_id) is None:
            raise not_found("user", field="userId")
        await conn.execute_query(
            "/* graph.block */ INSERT INTO blocks (id, blocker_id, blocked_id, created_at)"
            " VALUES ($1, $2, $3, now()) ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
            [next_id(), blocker_id, blocked_id],
        )
        # A block ends follows and requests in both directions.
        await _remove_follow(conn, follower_id=blocker_id, followee_id=blocked_id)
        await _remove_follow(conn, follower_id=blocked_id, followee_id=blocker_id)
    await users.invalidate(blocker_id, blocked_id)


async def unblock(*, blocker_id: int, blocked_id: int) -> None:
    await connections.get("default").execute_query(
        "/* graph.unblock */ DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
        [blocker_id, blocked_id],
    )


async def follow_statuses(*, follower_id: int, followee_ids: Iterable[int]) -> dict[int, str]:
    """How `follower_id` follows each of `followee_ids` (absent: not at all)."""
    rows = await connections.get("default").execute_query_dict(
        "/* graph.follow_statuses */ SELECT followee_id, status FROM follows"
        " WHERE follower_id = $1 AND followee_id = ANY($2::bigint[])",
        [follower_id, list(followee_ids)],
    )
    return {row["followee_id"]: row["status"] for row in rows}


async def followers_among(*, user_id: int, candidate_ids: Iterable[int]) -> set[int]:
    """Which of `candidate_ids` actively follow `user_id`."""
    rows = await connections.get("default").execute_query_dict(
        "/* graph.followers_among */ SELECT follower_id FROM follows"
        " WHERE followee_id = $1 AND status = 'ACTIVE' AND follower_id = ANY($2::bigint[])",
        [user_id, list(candidate_ids)],
    )
    return {row["follower_id"] for row in rows}


async def blocked_among(*, viewer_id: int, other_ids: Iterable[int]) -> set[int]:
    """Which of `other_ids` are blocked by, or have blocked, the viewer."""
    rows = await connections.get("default").execute_query_dict(
        "/* graph.blocked_among */ SELECT blocked_id AS other FROM blocks"
        " WHERE blocker_id = $1 AND blocked_id = ANY($2::bigint[])"
        " UNION SELECT blocker_id FROM blocks"
        " WHERE blocked_id = $1 AND blocker_id = ANY($2::bigint[])",
        [viewer_id, list(other_ids)],
    )
    return {row["other"] for row in rows}


async def _page(sql: str, args: list[object], first: int) -> Page:
    rows = await connections.get("default").execute_query_dict(sql, args)
    return Page.from_rows([(row["pos"], row["item"]) for row in rows], first)


async def list_followers(
    *, user_id: int, viewer_id: int | None, first: int, after: int | None
) -> Page:
    return await _page(
        "/* graph.followers_page */ SELECT f.id AS pos, f.follower_id AS item FROM follows f"
        " WHERE f.followee_id = $1 AND f.status = 'ACTIVE' AND f.id < $2"
        f" AND {not_blocked_sql('$4', 'f.follower_id')} ORDER BY f.id DESC LIMIT $3",
        [user_id, after or MAX_ID, first + 1, viewer_id or 0],
        first,
    )


async def list_following(
    *, user_id: int, viewer_id: int | None, first: int, after: int | None
) -> Page:
    return await _page(
        "/* graph.following_page */ SELECT f.id AS pos, f.followee_id AS item FROM follows f"
        " WHERE f.follower_id = $1 AND f.status = 'ACTIVE' AND f.id < $2"
        f" AND {not_blocked_sql('$4', 'f.followee_id')} ORDER BY f.id DESC LIMIT $3",
        [user_id, after or MAX_ID, first + 1, viewer_id or 0],
        first,
    )


async def list_follow_requests(*, user_id: int, first: int, after: int | None) -> Page:
    return await _page(
        "/* graph.requests_page */ SELECT f.id AS pos, f.follower_id AS item FROM follows f"
        " WHERE f.followee_id = $1 AND f.status = 'PENDING' AND f.id < $2"
        " ORDER BY f.id DESC LIMIT $3",
        [user_id, after or MAX_ID, first + 1],
        first,
    )


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_users(
    *, prefix: str, viewer_id: int | None, first: int, after: int | None = None
) -> Page:
    """Usernames starting with `prefix`; an exact match first, then the most followed. The
    order is not a keyset (follower counts move), so a position is the rank in the result,
    MAX_SEARCH_RESULTS deep at most."""
    prefix = prefix.strip().lstrip("@").lower()
    start = 0 if after is None else after + 1
    if not prefix or start >= MAX_SEARCH_RESULTS:
        return Page([], False)
    take = min(first, MAX_SEARCH_RESULTS - start)
    rows = await connections.get("default").execute_query_dict(
        "/* graph.search_users */ SELECT u.id FROM users u WHERE u.username LIKE $1"
        " AND u.status = 'ACTIVE'"
        f" AND {not_blocked_sql('$4', 'u.id')}"
        " ORDER BY (u.username = $2) DESC, u.follower_count DESC, u.username"
        " LIMIT $3 OFFSET $5",
        [_like_prefix(prefix), prefix, take + 1, viewer_id or 0, start],
    )
    found = [(start + n, int(row["id"])) for n, row in enumerate(rows)]
    return Page(found[:take], len(found) > take and start + take < MAX_SEARCH_RESULTS)
