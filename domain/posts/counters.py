"""Exact like / comment / save counters in Redis, flushed to Postgres in batches.

A viral post's likes never contend on one Postgres row: each like is one atomic HINCRBY on the
post's counter hash, and the flush cron writes the absolute values of every changed counter in
one UPDATE. Redis serves the live values; a counter missing from Redis (never written, or
expired a week after its last flush) is read from the row, which the flush kept exact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from redis.asyncio import Redis
from tortoise import connections

from domain.reads import ReadBatch

Kind = Literal["post", "comment"]
FLUSH_BATCH = 1_000
IDLE_TTL_SECONDS = 7 * 86_400


@dataclass(frozen=True)
class CounterSpec:
    table: str
    fields: tuple[str, ...]  # Redis field names, which are also the column names


SPECS: dict[Kind, CounterSpec] = {
    "post": CounterSpec("posts", ("like_count", "comment_count", "save_count")),
    "comment": CounterSpec("comments", ("like_count", "reply_count")),
}

# Bump a field of a counter that exists; nil when it does not (the caller seeds it).
_BUMP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local value = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('PERSIST', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[3])
return value
"""
# Seed a counter from the row's values (unless a racing writer did already), then bump.
_SEED_AND_BUMP = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
local value = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('PERSIST', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[3])
return value
"""


async def _eval(redis: Redis, script: str, keys: list[str], args: list[object]) -> Any:
    return await cast(Awaitable[Any], redis.eval(script, len(keys), *keys, *map(str, args)))


def _key(kind: Kind, item_id: int) -> str:
    return f"cnt:{kind}:{item_id}"


def _dirty(kind: Kind) -> str:
    return f"cnt:dirty:{kind}"


async def bump(redis: Redis, kind: Kind, item_id: int, field: str, delta: int) -> int:
    """Add `delta` to one counter; returns the new value."""
    spec = SPECS[kind]
    assert field in spec.fields, field
    keys = [_key(kind, item_id), _dirty(kind)]
    value = await _eval(redis, _BUMP, keys, [field, delta, item_id])
    if value is None:
        rows = await connections.get("default").execute_query_dict(
            f"/* counters.seed */ SELECT {', '.join(spec.fields)} FROM {spec.table} WHERE id = $1",
            [item_id],
        )
        if not rows:
            return 0
        seed = [part for name in spec.fields for part in (name, rows[0][name])]
        value = await _eval(redis, _SEED_AND_BUMP, keys, [field, delta, item_id, *seed])
    return int(value)


def queue_read(
    pipe: ReadBatch, kind: Kind, ids: Sequence[int]
) -> Callable[[], dict[int, dict[str, int]]]:
    """Queue the read of these counters in `pipe`; once it has run, the returned function gives
    the live values of the counters Redis holds (ids it does not hold are absent)."""
    replies = [(item_id, pipe.hgetall(_key(kind, item_id))) for item_id in ids]
    return lambda: _live((item_id, reply.value) for item_id, reply in replies)


def _live(read: Iterable[tuple[int, dict[str, str]]]) -> dict[int, dict[str, int]]:
    return {
        item_id: {name: int(value) for name, value in values.items()}
        for item_id, values in read
        if values
    }


async def read(redis: Redis, kind: Kind, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Live values of the counters Redis holds; ids it does not hold are absent."""
    async with redis.pipeline(transaction=False) as pipe:
        for item_id in ids:
            pipe.hgetall(_key(kind, item_id))
        return _live(zip(ids, await pipe.execute(), strict=True))


async def forget(redis: Redis, kind: Kind, ids: Iterable[int]) -> None:
    """Drop counters of deleted items."""
    keys = [_key(kind, i) for i in ids]
    if keys:
        await redis.delete(*keys)


async def flush(redis: Redis, kind: Kind) -> list[int]:
    """Write every changed counter's value to its row; returns the ids written.

    Idempotent (absolute values, not deltas). Ids whose write failed go back into the dirty set.
    """
    spec = SPECS[kind]
    popped = await cast(Awaitable[list[str] | None], redis.spop(_dirty(kind), FLUSH_BATCH))
    ids = [int(i) for i in popped or []]
    if not ids:
        return []
    try:
        values = await read(redis, kind, ids)
        present = [i for i in ids if i in values]
        if present:
            columns = [[values[i].get(name, 0) for i in present] for name in spec.fields]
            assignments = ", ".join(f"{name} = v.{name}" for name in spec.fields)
            unnest = ", ".join(f"${n + 2}::int[]" for n in range(len(spec.fields)))
            await connections.get("default").execute_query(
                f"/* counters.flush */ UPDATE {spec.table} SET {assignments}"
                f" FROM unnest($1::bigint[], {unnest}) AS v(id, {', '.join(spec.fields)})"
                f" WHERE {spec.table}.id = v.id",
                [present, *columns],
            )
            async with redis.pipeline(transaction=False) as pipe:
                for item_id in present:
                    pipe.expire(_key(kind, item_id), IDLE_TTL_SECONDS)
                await pipe.execute()
    except BaseException:
        await cast(Awaitable[int], redis.sadd(_dirty(kind), *ids))
        raise
    return present
