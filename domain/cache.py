"""Read-through caching of rows in Redis (aiocache), batched by id.

A page of objects costs one Redis round trip and at most one `WHERE id = ANY($1)` for the ones
Redis did not have. Writers call `invalidate` after they commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from aiocache.base import BaseCache
from tortoise import connections

V = TypeVar("V")


class RowCache(Generic[V]):
    def __init__(
        self,
        cache: BaseCache,
        *,
        kind: str,
        select_sql: str,
        from_row: Callable[[dict[str, Any]], V],
        to_cache: Callable[[V], dict[str, Any]],
        from_cache: Callable[[dict[str, Any]], V],
        id_of: Callable[[V], int],
        ttl_seconds: int,
    ) -> None:
        """`select_sql` selects the rows whose ids are in $1 (a bigint[])."""
        self._cache = cache
        self._kind = kind
        self._sql = select_sql
        self._from_row = from_row
        self._to_cache = to_cache
        self._from_cache = from_cache
        self._id_of = id_of
        self._ttl = ttl_seconds

    def key(self, item_id: int) -> str:
        return f"{self._kind}:{item_id}"

    async def get_many(self, ids: Iterable[int]) -> dict[int, V]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        found: dict[int, V] = {}
        cached = await self._cache.multi_get([self.key(i) for i in wanted])
        for item_id, data in zip(wanted, cached, strict=True):
            if data is not None:
                found[item_id] = self._from_cache(data)
        missing = [i for i in wanted if i not in found]
        if missing:
            rows = await connections.get("default").execute_query_dict(self._sql, [missing])
            fresh = [self._from_row(row) for row in rows]
            if fresh:
                await self._cache.multi_set(
                    [(self.key(self._id_of(v)), self._to_cache(v)) for v in fresh], ttl=self._ttl
                )
            found.update((self._id_of(v), v) for v in fresh)
        return found

    async def get(self, item_id: int) -> V | None:
        return (await self.get_many([item_id])).get(item_id)

    async def invalidate(self, *ids: int) -> None:
        for item_id in set(ids):
            await self._cache.delete(self.key(item_id))
