"""Read-through caching of rows in Redis (aiocache), batched by id.

A page of objects costs one Redis round trip (or a share of one) and at most one
`WHERE id = ANY($1)` for the ones Redis did not have. Writers call `invalidate` after they commit.

A fill races with writers: a reader that read a row just before a write could store its copy
just after the writer's invalidation, and that stale copy would then be served for the whole TTL.
So a reader that misses first takes a lease (a short-lived token beside the key), invalidation
deletes the lease with the key, and a fill writes only where its own lease still stands (the
leases of "Scaling Memcache at Facebook", §3.2.1). A miss costs one more Redis round trip.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, get_type_hints

import orjson
from aiocache.base import BaseCache
from aiocache.serializers import BaseSerializer
from redis.asyncio import Redis

from domain import replicas
from domain.keyspace import NodeScript
from domain.reads import ReadBatch, Reads, read_alone


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
    """A view as JSON-ready values (datetimes in ISO 8601). Views are flat (their lists and
    dicts hold plain values), so their fields are read as they are: `dataclasses.asdict`
    deep-copies every value, and was a twentieth of the API's CPU under the load bench."""
    out = {}
    kind: type = type(view)
    for name in _field_names(kind):
        value = getattr(view, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


def from_json(cls: type[V], data: dict[str, Any]) -> V:
    """The view `to_json` made `data` from (`data` is used up: its datetimes are parsed in
    place)."""
    for name in _datetime_fields(cls):
        value = data.get(name)
        if value:
            data[name] = datetime.fromisoformat(value)
    return cls(**data)


T = TypeVar("T")
K = TypeVar("K")


def remember(memo: dict[K, T], key: K, value: T, *, limit: int) -> None:
    """Put `value` in a process-wide memo of at most `limit` entries, dropping the oldest entry
    to make room for a new key."""
    if key not in memo and len(memo) >= limit:
        del memo[next(iter(memo))]
    memo[key] = value


DECODED_VIEWS = 4_096  # per kind of row, in each process

# Before a cached value read from a replica (JSON never starts with it).
REPLICA_MARK = "~"
LEASE_MS = 10_000  # a fill that takes longer than this (a stalled reader) is dropped


def lease_key(key: str) -> str:
    return f"{key}:lease"


async def take_leases(redis: Redis, keys: Iterable[str]) -> str:
    """Lease these keys to the caller before it reads what to fill them with; returns the
    token its fill must show. A later reader's lease replaces an earlier one's (the later
    read is the fresher), and `invalidate` ends them all."""
    token = secrets.token_hex(8)
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.set(lease_key(key), token, px=LEASE_MS)
        await pipe.execute()
    return token


# KEYS: lease, key, lease, key, ...; ARGV: token, ttl, then one value per key.
FILL_VALUES = """
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('SET', KEYS[i + 1], ARGV[2 + (i + 1) / 2], 'EX', ARGV[2])
    redis.call('DEL', KEYS[i])
  end
end
"""


class OrjsonSerializer(BaseSerializer):
    """aiocache's JSON serializer, with orjson: same values, several times faster."""

    DEFAULT_ENCODING = "utf-8"

    def dumps(self, value: Any) -> str:
        return orjson.dumps(value).decode()

    def loads(self, value: str | bytes | None) -> Any:
        return None if value is None else orjson.loads(value)


class Parse(Protocol[V]):
    """What RowCache.queue_get returns: once the batch has run, builds the rows from its reply."""

    def __call__(
        self, changes: dict[int, dict[str, Any]] | None = None, /
    ) -> Awaitable[dict[int, V]]: ...


class RowCache(Generic[V]):
    def __init__(
        self,
        cache: BaseCache,
        redis: Redis,
        reads: Reads,
        *,
        kind: str,
        view: type[V],
        select_sql: str,
        from_row: Callable[[dict[str, Any]], V],
        ttl_seconds: int,
    ) -> None:
        """`select_sql` selects the rows whose ids are in $1 (a bigint[]).

        Values live under aiocache's keys, in its serializer's format; reads go out as one
        MGET, which a caller may put in a batch beside its other reads (the feed fetches posts,
        counters, follows, authors and media in one round trip that way)."""
        self._cache = cache
        self._redis = redis
        self._reads = reads
        self._kind = kind
        self._view = view
        self._sql = select_sql
        self._from_row = from_row
        self._ttl = ttl_seconds
        self._fill = NodeScript(redis, FILL_VALUES)
        # aiocache's key for an id is its namespace, then `key(id)`: the part before the id is
        # worked out once.
        self._prefix = str(cache.build_key(self.key(0)))[: -len("0}")]
        assert f"{self._prefix}7}}" == cache.build_key(self.key(7))
        # Views decoded lately, by the bytes Redis held (and the live values applied): a hot
        # row read again unchanged is not decoded again. Views are frozen, so sharing is safe.
        self._decoded: dict[tuple[str, tuple[tuple[str, Any], ...]], V] = {}
        self._last: dict[int, V] = {}  # the view of each id read last (see last_read)

    def key(self, item_id: int) -> str:
        # the id as a hash tag: the row's key and its lease share a slot on a cluster
        return f"{self._kind}:{{{item_id}}}"

    def _redis_key(self, item_id: int) -> str:
        return f"{self._prefix}{item_id}}}"

    async def fill(self, token: str, views: Sequence[V], *, from_replica: bool = False) -> None:
        """Cache these views where the lease `token` still stands (see the module's notes).
        Views read from a replica may be a moment old: they are cached for the replicas'
        sticky window only, marked, and a read that must see the primary's rows (a viewer who
        just wrote, a job) passes them by (see `queue_get`)."""
        dumps = self._cache.serializer.dumps
        lifetime, mark = self._ttl, ""
        if from_replica:
            lifetime, mark = max(1, int(replicas.installed().sticky_seconds)), REPLICA_MARK

        def call(some: list[V]) -> tuple[list[str], list[Any]]:
            keys = []
            for view in some:
                key = self._redis_key(view.id)
                keys += [lease_key(key), key]
            return keys, [token, lifetime, *(mark + dumps(to_json(v)) for v in some)]

        await self._fill.run(views, lambda view: b"%d" % view.id, call)

    def last_read(self, item_id: int) -> V | None:
        """The view of this id this process read last, if it still remembers it: stale, maybe,
        so only a guess at what else to read beside it (a post's media ids, say), or the row
        itself once it is in a state it never leaves (see MediaStore.settled)."""
        return self._last.get(item_id)

    def queue_get(
        self, pipe: ReadBatch, ids: Sequence[int], *, cached_only: bool = False
    ) -> Parse[V]:
        """Queue the read of these ids in `pipe`. Once it has run, call the returned function:
        it takes this read's reply at once, and returns what to await for the rows (those Redis
        did not have are read from Postgres then, in one query, and cached; with `cached_only`,
        they are left out).
        `changes` passed to it are applied to the rows it returns (live values kept beside the
        cached row, such as counters)."""
        wanted = list(dict.fromkeys(ids))
        reply = pipe.mget([self._redis_key(i) for i in wanted]) if wanted else None
        loads = self._cache.serializer.loads

        decoded, last = self._decoded, self._last
        stale_ok = replicas.stale_reads_allowed()

        def parse(changes: dict[int, dict[str, Any]] | None = None) -> Awaitable[dict[int, V]]:
            found = {}
            for item_id, data in zip(wanted, reply.value if reply else [], strict=True):
                if data is None:
                    continue
                if data[0] == REPLICA_MARK:  # read from a replica: a moment old, maybe
                    if not stale_ok:
                        continue  # read again, from the primary
                    data = data[1:]
                change = changes.get(item_id) if changes else None
                key = (data, tuple(change.items()) if change else ())
                view = decoded.get(key)
                if view is None:
                    values = loads(data)
                    if change:
                        values.update(change)
                    view = from_json(self._view, values)
                    remember(decoded, key, view, limit=DECODED_VIEWS)
                remember(last, item_id, view, limit=DECODED_VIEWS)
                found[item_id] = view
            return self._complete(found, [] if cached_only else wanted, changes)

        return parse

    async def _complete(
        self, found: dict[int, V], wanted: list[int], changes: dict[int, dict[str, Any]] | None
    ) -> dict[int, V]:
        missing = [i for i in wanted if i not in found]
        if missing:
            token = await take_leases(self._redis, map(self._redis_key, missing))
            rows, stale = await replicas.fetch(self._sql, [missing])
            fresh = [self._from_row(row) for row in rows]
            for view in fresh:
                remember(self._last, view.id, view, limit=DECODED_VIEWS)
            if fresh:
                await self.fill(token, fresh, from_replica=stale)
            changes = changes or {}
            found.update(
                (v.id, dataclasses.replace(v, **changes[v.id]) if v.id in changes else v)  # type: ignore[type-var]
                for v in fresh
            )
        return found

    async def get_many(self, ids: Iterable[int]) -> dict[int, V]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        rows = await read_alone(self._reads, lambda pipe: self.queue_get(pipe, wanted))
        return await rows

    async def get(self, item_id: int) -> V | None:
        return (await self.get_many([item_id])).get(item_id)

    async def invalidate(self, *ids: int) -> None:
        """Drop the cached copies and any fill under way (its lease)."""
        keys = [self._redis_key(i) for i in set(ids)]
        if keys:
            await self._redis.delete(*keys, *map(lease_key, keys))
