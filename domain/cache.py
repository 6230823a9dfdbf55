"""Read-through caching of rows in Redis (aiocache), batched by id.

A page of objects costs one Redis round trip and at most one `WHERE id = ANY($1)` for the ones
Redis did not have. Writers call `invalidate` after they commit.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, get_type_hints

from aiocache.base import BaseCache
from tortoise import connections


class View(Protocol):
    """A frozen dataclass with an id: what the caches and events carry."""

    @property
    def id(self) -> int: ...


V = TypeVar("V", bound=View)


@functools.cache
def _datetime_fields(cls: type) -> frozenset[str]:
    """The fields typed `datetime` or `datetime | None`."""
    return frozenset(
        name
        for name, hint in get_type_hints(cls).items()
        if hint is datetime or datetime in getattr(hint, "__args__", ())
    )


def to_json(view: Any) -> dict[str, Any]:
    """A view as JSON-ready values (datetimes in ISO 8601)."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in dataclasses.asdict(view).items()
    }


def from_json(cls: type[V], data: dict[str, Any]) -> V:
    """The view `to_json` made `data` from."""
    times = _datetime_fields(cls)
    return cls(
        **{
            name: datetime.fromisoformat(value) if name in times and value else value
            for name, value in data.items()
        }
    )


class RowCache(Generic[V]):
    def __init__(
        self,
        cache: BaseCache,
        *,
        kind: str,
        view: type[V],
        select_sql: str,
        from_row: Callable[[dict[str, Any]], V],
        ttl_seconds: int,
    ) -> None:
        """`select_sql` selects the rows whose ids are in $1 (a bigint[])."""
        self._cache = cache
        self._kind = kind
        self._view = view
        self._sql = select_sql
        self._from_row = from_row
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
                found[item_id] = from_json(self._view, data)
        missing = [i for i in wanted if i not in found]
        if missing:
            rows = await connections.get("default").execute_query_dict(self._sql, [missing])
            fresh = [self._from_row(row) for row in rows]
            if fresh:
                await self._cache.multi_set(
                    [(self.key(v.id), to_json(v)) for v in fresh], ttl=self._ttl
                )
            found.update((v.id, v) for v in fresh)
        return found

    async def get(self, item_id: int) -> V | None:
        return (await self.get_many([item_id])).get(item_id)

    async def invalidate(self, *ids: int) -> None:
        for item_id in set(ids):
            await self._cache.delete(self.key(item_id))
