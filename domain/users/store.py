"""The read path for users: Redis first (through aiocache), Postgres for what is missing."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from aiocache.base import BaseCache
from redis.asyncio import Redis
from tortoise import connections

from domain.cache import RowCache, lease_key, take_leases
from domain.reads import ReadBatch, Reads


def now_ms() -> int:
    return int(time.time() * 1000)


# When each account's row or its stories last changed (ms), for a day: what the story tray's kept
# answers are checked against (domain/stories/tray_cache).
CHANGED = "users:changed"
CHANGED_KEPT_MS = 25 * 3_600_000

USER_COLUMNS = (
    "id, username, full_name, bio, is_private, avatar_media_id, follower_count, following_count,"
    " post_count, created_at, token_epoch"
)


@dataclass(frozen=True, slots=True)
class UserView:
    """What anyone may see of an account; never carries credentials."""

    id: int
    username: str
    full_name: str
    bio: str
    is_private: bool
    avatar_media_id: int | None
    follower_count: int
    following_count: int
    post_count: int
    created_at: datetime
    token_epoch: int = 0  # never shown: the auth step compares it with the token's

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> UserView:
        return cls(**{name: row[name] for name in cls.__slots__})


class UserStore:
    def __init__(self, cache: BaseCache, redis: Redis, reads: Reads, *, ttl_seconds: int) -> None:
        self._cache = cache
        self._redis = redis
        self._ttl = ttl_seconds
        self._fill_following = redis.register_script(FILL_FOLLOWING)
        self.rows = RowCache[UserView](
            cache,
            redis,
            reads,
            kind="user",
            view=UserView,
            # Only active accounts: a deactivated, suspended or deleted one is nobody's to read.
            select_sql=f"/* users.by_ids */ SELECT {USER_COLUMNS} FROM users"
            " WHERE id = ANY($1::bigint[]) AND status = 'ACTIVE'",
            from_row=UserView.from_row,
            ttl_seconds=ttl_seconds,
        )

    async def get_many(self, ids: Iterable[int]) -> dict[int, UserView]:
        return await self.rows.get_many(ids)

    async def get(self, user_id: int) -> UserView | None:
        return await self.rows.get(user_id)

    async def id_for_username(self, username: str) -> int | None:
        key = f"name:{username.lower()}"
        cached = await self._cache.get(key)
        if cached is not None:
            return int(cached)
        rows = await connections.get("default").execute_query_dict(
            "/* users.id_by_username */ SELECT id FROM users WHERE username = $1"
            " AND status = 'ACTIVE'",
            [username.lower()],
        )
        if not rows:
            return None
        await self._cache.set(key, rows[0]["id"], ttl=self._ttl)
        return int(rows[0]["id"])

    async def following_ids(self, user_id: int) -> set[int]:
        """Whom the user follows (approved follows only), from a Redis set kept beside the
        user; "0" marks a loaded set, so following nobody is cached too."""
        key = following_key(user_id)
        members = await cast(Awaitable[set[str]], self._redis.smembers(key))
        if members:
            return {int(m) for m in members if m != "0"}
        token = await take_leases(self._redis, [key])  # see domain/cache on leases
        rows = await connections.get("default").execute_query_dict(
            "/* users.following_ids */ SELECT followee_id FROM follows"
            " WHERE follower_id = $1 AND status = 'ACTIVE'",
            [user_id],
        )
        ids = {int(row["followee_id"]) for row in rows}
        await self.fill_following(token, user_id, ids)
        return ids

    async def fill_following(self, token: str, user_id: int, ids: Iterable[int]) -> None:
        """Cache whom the user follows where the lease `token` still stands."""
        key = following_key(user_id)
        await self._fill_following([lease_key(key), key], [token, self._ttl, "0", *ids])

    def queue_follows_among(
        self, pipe: ReadBatch, user_id: int, candidate_ids: Iterable[int]
    ) -> Callable[[], Awaitable[set[int]]]:
        """Queue the check of which of `candidate_ids` the user follows (one SMISMEMBER, without
        reading the whole set, which may hold thousands); see RowCache.queue_get for how to take
        the result. A set not cached yet is loaded from Postgres when the result is awaited."""
        candidates = list(dict.fromkeys(candidate_ids))
        reply = pipe.smismember(following_key(user_id), ["0", *candidates]) if candidates else None

        def parse() -> Awaitable[set[int]]:
            flags = reply.value if reply else [True]
            return self._follows_among(user_id, candidates, flags)

        return parse

    async def _follows_among(
        self, user_id: int, candidates: list[int], flags: list[bool]
    ) -> set[int]:
        if not flags[0]:  # not cached yet
            following = await self.following_ids(user_id)
            return {c for c in candidates if c in following}
        return {c for c, flag in zip(candidates, flags[1:], strict=True) if flag}

    async def forget_username(self, username: str) -> None:
        """Drop the cached id of a name that is no longer the account's (it may be taken)."""
        await self._cache.delete(f"name:{username.lower()}")

    async def invalidate(self, *user_ids: int) -> None:
        """Drop cached copies (the user and whom they follow) after a write, and note the
        change; the next read refills from Postgres."""
        await self.rows.invalidate(*user_ids)
        keys = [following_key(i) for i in user_ids]
        if keys:
            await self._redis.delete(*keys, *map(lease_key, keys))
            await note_changed(self._redis, *user_ids)


# Note accounts as changed now: each one's score moves forward by at least a millisecond, so two
# changes within one millisecond are two changes to whoever compares scores.
# KEYS: CHANGED; ARGV: now (ms), then the account ids.
NOTE_CHANGED = """
local now = tonumber(ARGV[1])
for i = 2, #ARGV do
  local was = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]) or 0)
  redis.call('ZADD', KEYS[1], math.max(now, was + 1), ARGV[i])
end
"""


def queue_note_changed(pipe: Any, *user_ids: int) -> None:
    """Queue in `pipe` that these accounts, or their stories, changed now (see CHANGED)."""
    if user_ids:
        pipe.eval(NOTE_CHANGED, 1, CHANGED, str(now_ms()), *map(str, user_ids))


async def note_changed(redis: Redis, *user_ids: int) -> None:
    if user_ids:
        async with redis.pipeline(transaction=False) as pipe:
            queue_note_changed(pipe, *user_ids)
            await pipe.execute()


# KEYS: lease, set; ARGV: token, ttl, members. SADD in slices: Lua's unpack has a stack limit.
FILL_FOLLOWING = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 3, #ARGV, 5000 do
  redis.call('SADD', KEYS[2], unpack(ARGV, i, math.min(i + 4999, #ARGV)))
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


def following_key(user_id: int) -> str:
    return f"fol:{{{user_id}}}"
