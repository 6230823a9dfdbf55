"""The read path for users: Redis first (through aiocache), Postgres for what is missing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aiocache.base import BaseCache
from tortoise import connections

from domain.cache import RowCache

USER_COLUMNS = (
    "id, username, full_name, bio, is_private, avatar_media_id, follower_count, following_count,"
    " post_count, created_at"
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

    def to_cache(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> UserView:
        return cls(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> UserView:
        return cls(**{name: row[name] for name in cls.__slots__})


class UserStore:
    def __init__(self, cache: BaseCache, *, ttl_seconds: int) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        self._rows = RowCache[UserView](
            cache,
            kind="user",
            select_sql=f"/* users.by_ids */ SELECT {USER_COLUMNS} FROM users"
            " WHERE id = ANY($1::bigint[])",
            from_row=UserView.from_row,
            to_cache=UserView.to_cache,
            from_cache=UserView.from_cache,
            id_of=lambda user: user.id,
            ttl_seconds=ttl_seconds,
        )

    async def get_many(self, ids: Iterable[int]) -> dict[int, UserView]:
        return await self._rows.get_many(ids)

    async def get(self, user_id: int) -> UserView | None:
        return await self._rows.get(user_id)

    async def id_for_username(self, username: str) -> int | None:
        key = f"name:{username.lower()}"
        cached = await self._cache.get(key)
        if cached is not None:
            return int(cached)
        rows = await connections.get("default").execute_query_dict(
            "/* users.id_by_username */ SELECT id FROM users WHERE username = $1",
            [username.lower()],
        )
        if not rows:
            return None
        await self._cache.set(key, rows[0]["id"], ttl=self._ttl)
        return int(rows[0]["id"])

    async def invalidate(self, *user_ids: int) -> None:
        """Drop cached copies after a write; the next read refills from Postgres."""
        await self._rows.invalidate(*user_ids)
