"""Exact like / comment / save counters in Redis, flushed to Postgres in batches.

A viral post's likes never contend on one Postgres row: each like is one atomic HINCRBY on the
post's counter hash, and the flush cron writes the absolute values of every changed counter in
one UPDATE. Redis serves the live values; a counter missing from Redis (never written, or
expired a week after its last flush) is read from the row, which the flush kept exact.

Counters are derived state, and `reconcile` recounts them from the rows (likes, comments,
saves): every counter seeded from its row (Redis may have lost increments since the last
flush, so the row may be stale), every counter whose increment failed after its row was
committed (its item is written to `counter_recounts` in Postgres, since Redis may be the one
that failed), and a sample of recently changed ones. Each increment also counts itself in the
hash's `_ops`. A candidate is recounted only once it is quiet, no increment for QUIET_SECONDS:
then no increment of a row counted can still be on its way (a request gives up on Redis within
its timeout), so the count is exact; and it is set only if no increment came while it was
counted. A counter that never stays quiet that long waits for a pause. So
after any single fault a counter is exact again soon after its last change, whatever the
client retried.
"""

from __future__ import annotations

import contextlib
import time
import weakref
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from redis.asyncio import Redis
from tortoise import connections

from domain.ids import min_id_at
from domain.keyspace import NodeScript
from domain.reads import ReadBatch

Kind = Literal["post", "comment"]
FLUSH_BATCH = 1_000  # per shard
# Counters live in SHARDS hash tags per kind, each with its own dirty set and recount notes
# beside its counters (a bump and its dirty mark are one script, so one slot on a cluster).
SHARDS = 16
IDLE_TTL_SECONDS = 7 * 86_400


@dataclass(frozen=True)
class CounterSpec:
    table: str
    fields: tuple[str, ...]  # Redis field names, which are also the column names
    # the exact values from the rows, for the ids in $1, and the id of the newest row counted
    recount_sql: str


SPECS: dict[Kind, CounterSpec] = {
    "post": CounterSpec(
        "posts",
        ("like_count", "comment_count", "save_count", "view_count", "play_count"),
        "/* counters.recount_posts */ SELECT p.id,"
        " (SELECT count(*) FROM likes l WHERE l.post_id = p.id) AS like_count,"
        " (SELECT count(*) FROM comments c WHERE c.post_id = p.id) AS comment_count,"
        " (SELECT count(*) FROM saves s WHERE s.post_id = p.id) AS save_count,"
        # views from their exact totals: the events themselves are kept a while only
        " coalesce((SELECT v.views FROM post_view_totals v WHERE v.post_id = p.id), 0)"
        " AS view_count,"
        " coalesce((SELECT v.plays FROM post_view_totals v WHERE v.post_id = p.id), 0)"
        " AS play_count,"
        " greatest((SELECT max(l.id) FROM likes l WHERE l.post_id = p.id),"
        " (SELECT max(c.id) FROM comments c WHERE c.post_id = p.id),"
        " (SELECT max(s.id) FROM saves s WHERE s.post_id = p.id)) AS newest"
        " FROM posts p WHERE p.id = ANY($1::bigint[])",
    ),
    "comment": CounterSpec(
        "comments",
        ("like_count", "reply_count"),
        "/* counters.recount_comments */ SELECT c.id,"
        " (SELECT count(*) FROM comment_likes l WHERE l.comment_id = c.id) AS like_count,"
        " (SELECT count(*) FROM comments r WHERE r.post_id = c.post_id AND r.reply_to_id = c.id)"
        " AS reply_count,"
        " greatest((SELECT max(l.id) FROM comment_likes l WHERE l.comment_id = c.id),"
        " (SELECT max(r.id) FROM comments r WHERE r.post_id = c.post_id AND r.reply_to_id = c.id))"
        " AS newest FROM comments c WHERE c.id = ANY($1::bigint[])",
    ),
}

OPS = "_ops"  # the hash field counting the increments a counter has taken
RECOUNT_BATCH = 200
RECOUNT_SAMPLE = 20
# A candidate is recounted once no increment moved it, and no row it counts was added, for this
# long: an increment of a row it counts can then no longer be on its way (a request's calls are
# bounded by their timeouts). Without the second half, a recount between a row's commit and its
# increment counted that row twice (the load bench found it).
QUIET_SECONDS = 10.0

# Bump a field of a counter that exists; nil when it does not (the caller seeds it).
_BUMP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local value = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], '_ops', 1)
redis.call('PERSIST', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[3])
return value
"""
# `_BUMP` over many counters in one call (a NodeScript: one call per node): KEYS[2i-1] a counter,
# KEYS[2i] its shard's dirty set, ARGV[3i-2..3i] the field, delta and item id; answers each
# bump's item id, field and new value (false: the counter is not in Redis, to be seeded).
_BUMP_MANY = """
local out = {}
for i = 1, #KEYS, 2 do
  local a = (i - 1) / 2 * 3
  local value = false
  if redis.call('EXISTS', KEYS[i]) == 1 then
    value = redis.call('HINCRBY', KEYS[i], ARGV[a + 1], ARGV[a + 2])
    redis.call('HINCRBY', KEYS[i], '_ops', 1)
    redis.call('PERSIST', KEYS[i])
    redis.call('SADD', KEYS[i + 1], ARGV[a + 3])
  end
  out[#out + 1] = ARGV[a + 3]
  out[#out + 1] = ARGV[a + 1]
  out[#out + 1] = value
end
return out
"""
# Seed a counter from the row's values (unless a racing writer did already), then bump; a
# seeded counter becomes a candidate for a recount (KEYS[3]), since the row may be stale.
_SEED_AND_BUMP = """
local seeded = redis.call('EXISTS', KEYS[1]) == 0
if seeded then
  for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
local value = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
local ops = redis.call('HINCRBY', KEYS[1], '_ops', 1)
if seeded then redis.call('HSETNX', KEYS[3], ARGV[3], ops .. '@' .. ARGV[4]) end
redis.call('PERSIST', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[3])
return value
"""
# Set a recounted counter, unless an increment moved it since ARGV[1] (its `_ops` then; '' for
# a counter that did not exist); then it is flushed like any changed counter.
_SET_IF_UNMOVED = """
if (redis.call('HGET', KEYS[1], '_ops') or '') ~= ARGV[1] then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""


async def _eval(redis: Redis, script: str, keys: list[str], args: Sequence[object]) -> Any:
    return await cast(Awaitable[Any], redis.eval(script, len(keys), *keys, *map(str, args)))


def _shard(item_id: int) -> int:
    # crc32, not the id's low bits: those are a per-millisecond sequence, mostly 0.
    return zlib.crc32(b"%d" % item_id) % SHARDS


def _tag(kind: Kind, shard: int) -> str:
    return f"cnt:{{{kind[0]}{shard}}}"


def _hash_tag(kind: Kind, shard: int) -> bytes:
    """What is between the braces of `_tag` (keyspace.by_node groups by it)."""
    return f"{kind[0]}{shard}".encode()


def counter_key(kind: Kind, item_id: int) -> str:
    """The counter hash of one item (its shard's hash tag: beside the shard's dirty set)."""
    return f"{_tag(kind, _shard(item_id))}:{item_id}"


def _dirty(kind: Kind, shard: int) -> str:
    return f"{_tag(kind, shard)}:dirty"


def _recount(kind: Kind, shard: int) -> str:
    return f"{_tag(kind, shard)}:recount"


async def bump(redis: Redis, kind: Kind, item_id: int, field: str, delta: int) -> int:
    """Add `delta` to one counter (its row is committed already); returns the new value. When
    the increment fails, the counter is recounted from the rows later (see `reconcile`)."""
    spec = SPECS[kind]
    assert field in spec.fields, field
    shard = _shard(item_id)
    keys = [counter_key(kind, item_id), _dirty(kind, shard), _recount(kind, shard)]
    try:
        value = await _eval(redis, _BUMP, keys[:2], [field, delta, item_id])
        if value is None:
            rows = await connections.get("default").execute_query_dict(
                f"/* counters.seed */ SELECT {', '.join(spec.fields)} FROM {spec.table}"
                " WHERE id = $1",
                [item_id],
            )
            if not rows:
                return 0
            seed = [part for name in spec.fields for part in (name, rows[0][name])]
            noted_at = int(time.time() * 1000)
            args = [field, delta, item_id, noted_at, *seed]
            value = await _eval(redis, _SEED_AND_BUMP, keys, args)
    except Exception:
        await _recount_later([(kind, item_id)])
        raise
    return int(value)


async def bump_many(redis: Redis, kind: Kind, deltas: Sequence[tuple[int, str, int]]) -> None:
    """Many `bump`s in one round trip (a batch of logged views): one script call per node; a
    counter Redis does not hold yet is seeded one by one, as `bump` does."""
    if not deltas:
        return
    for _, field, _ in deltas:
        assert field in SPECS[kind].fields, field
    script = _bump_many_scripts.get(redis)
    if script is None:
        script = _bump_many_scripts[redis] = NodeScript(redis, _BUMP_MANY)

    def call(some: list[tuple[int, str, int]]) -> tuple[list[str], list[Any]]:
        keys = [
            key
            for item_id, _, _ in some
            for key in (counter_key(kind, item_id), _dirty(kind, _shard(item_id)))
        ]
        return keys, [
            str(part) for item_id, field, delta in some for part in (field, delta, item_id)
        ]

    try:
        replies = await script.run(
            deltas, lambda d: b"%s%d" % (kind[0].encode(), _shard(d[0])), call
        )
    except Exception:
        await _recount_later((kind, item_id) for item_id, _, _ in deltas)
        raise
    changes: dict[tuple[int, str], int] = {}
    for item_id, field, change in deltas:
        changes[item_id, field] = changes.get((item_id, field), 0) + change
    for reply in replies:
        for i in range(0, len(reply), 3):
            item_id, field = int(reply[i]), str(reply[i + 1])
            if reply[i + 2] is None and (item_id, field) in changes:  # once for a repeated one
                await bump(redis, kind, item_id, field, changes.pop((item_id, field)))


_bump_many_scripts: weakref.WeakKeyDictionary[Redis, NodeScript] = weakref.WeakKeyDictionary()


async def _recount_later(items: Iterable[tuple[Kind, int]]) -> None:
    """Ask for these counters to be recounted, in Postgres (Redis may be what just failed);
    best effort: if Postgres is down too, the sample recounts catch them."""
    wanted = list(items)
    if not wanted:
        return
    with contextlib.suppress(Exception):
        await connections.get("default").execute_query(
            "/* counters.recount_later */ INSERT INTO counter_recounts (counter)"
            " SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            [[f"{kind}:{item_id}" for kind, item_id in wanted]],
        )


async def reconcile(redis: Redis, kind: Kind, *, quiet_seconds: float = QUIET_SECONDS) -> int:
    """Recount from the rows the candidates that may be wrong (seeded from a row, an increment
    that failed, a sample of recently changed ones) once they are quiet; returns how many were
    set (see the module's notes). A candidate is noted as "<increments>@<ms>"."""
    asked = await connections.get("default").execute_query_dict(
        "/* counters.recounts_taken */ DELETE FROM counter_recounts WHERE counter IN"
        " (SELECT counter FROM counter_recounts WHERE counter LIKE $1 LIMIT $2"
        " FOR UPDATE SKIP LOCKED) RETURNING counter",
        [f"{kind}:%", RECOUNT_BATCH],
    )
    failed = [int(row["counter"].split(":")[1]) for row in asked]
    by_shard: dict[int, list[int]] = {shard: [] for shard in range(SHARDS)}
    for item_id in failed:
        by_shard[_shard(item_id)].append(item_id)
    try:
        done = 0
        for shard, failed_here in by_shard.items():
            done += await _reconcile_shard(redis, kind, shard, failed_here, quiet_seconds)
        return done
    except BaseException:
        await _recount_later((kind, item_id) for item_id in failed)
        raise


async def _reconcile_shard(
    redis: Redis, kind: Kind, shard: int, failed: list[int], quiet_seconds: float
) -> int:
    spec = SPECS[kind]
    candidates = _recount(kind, shard)
    sample = await cast(
        Awaitable[list[str]], redis.srandmember(_dirty(kind, shard), RECOUNT_SAMPLE)
    )
    now_ms = int(time.time() * 1000)
    new = sorted({*failed, *(int(i) for i in sample or [])})
    for item_id, ops in zip(new, await _ops(redis, kind, new), strict=True):
        # an older note stands: the counter has been moving (or quiet) since then
        await cast(Awaitable[int], redis.hsetnx(candidates, str(item_id), f"{ops}@{now_ms}"))
    noted = await cast(Awaitable[dict[str, str]], redis.hgetall(candidates))
    ids = [int(i) for i in list(noted)[:RECOUNT_BATCH]]
    quiet, still = [], now_ms - quiet_seconds * 1000
    for item_id, ops in zip(ids, await _ops(redis, kind, ids), strict=True):
        seen_ops, _, seen_at = noted[str(item_id)].partition("@")
        if seen_ops != ops:  # moving: quiet from now on, perhaps
            await cast(Awaitable[int], redis.hset(candidates, str(item_id), f"{ops}@{now_ms}"))
        elif int(seen_at or 0) <= still:
            quiet.append((item_id, ops))
    if not quiet:
        return 0
    rows = await connections.get("default").execute_query_dict(
        spec.recount_sql, [[i for i, _ in quiet]]
    )
    counted = {int(row["id"]): row for row in rows}
    # A row this young may still have its increment on the way (its request committed it and
    # is about to bump): counted now, it would be counted twice. Quiet means the rows too.
    young = min_id_at(datetime.fromtimestamp(still / 1000, UTC))
    done = 0
    for item_id, ops in quiet:
        row = counted.get(item_id)
        if row is not None and (row["newest"] or 0) >= young:
            await cast(Awaitable[int], redis.hset(candidates, str(item_id), f"{ops}@{now_ms}"))
            continue
        if row is not None:  # else deleted meanwhile
            values = [part for name in spec.fields for part in (name, int(row[name]))]
            keys = [counter_key(kind, item_id), _dirty(kind, shard)]
            if not await _eval(redis, _SET_IF_UNMOVED, keys, [ops, item_id, *values]):
                continue  # an increment came while it was counted: look again next time
            done += 1
        await cast(Awaitable[int], redis.hdel(candidates, str(item_id)))
    return done


async def _ops(redis: Redis, kind: Kind, ids: Sequence[int]) -> list[str]:
    """How many increments each counter has taken ('' for one Redis does not hold)."""
    async with redis.pipeline(transaction=False) as pipe:
        for item_id in ids:
            pipe.hget(counter_key(kind, item_id), OPS)
        return [ops or "" for ops in await pipe.execute()]


def queue_read(
    pipe: ReadBatch, kind: Kind, ids: Sequence[int]
) -> Callable[[], dict[int, dict[str, int]]]:
    """Queue the read of these counters in `pipe`; once it has run, the returned function gives
    the live values of the counters Redis holds (ids it does not hold are absent)."""
    replies = [(item_id, pipe.hgetall(counter_key(kind, item_id))) for item_id in ids]
    return lambda: _live((item_id, reply.value) for item_id, reply in replies)


def _live(read: Iterable[tuple[int, dict[str, str]]]) -> dict[int, dict[str, int]]:
    return {
        item_id: {name: int(value) for name, value in values.items() if name != OPS}
        for item_id, values in read
        if values
    }


async def read(redis: Redis, kind: Kind, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Live values of the counters Redis holds; ids it does not hold are absent."""
    async with redis.pipeline(transaction=False) as pipe:
        for item_id in ids:
            pipe.hgetall(counter_key(kind, item_id))
        return _live(zip(ids, await pipe.execute(), strict=True))


async def forget(redis: Redis, kind: Kind, ids: Iterable[int]) -> None:
    """Drop counters of deleted items."""
    keys = [counter_key(kind, i) for i in ids]
    if keys:
        await redis.delete(*keys)


async def flush(redis: Redis, kind: Kind) -> list[int]:
    """Write every changed counter's value to its row; returns the ids written.

    Idempotent (absolute values, not deltas). Ids whose write failed go back into the dirty set.
    """
    spec = SPECS[kind]
    async with redis.pipeline(transaction=False) as pipe:
        for shard in range(SHARDS):
            pipe.spop(_dirty(kind, shard), FLUSH_BATCH)
        popped = await pipe.execute()
    ids = [int(i) for some in popped for i in some or []]
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
                    pipe.expire(counter_key(kind, item_id), IDLE_TTL_SECONDS)
                await pipe.execute()
    except BaseException:
        async with redis.pipeline(transaction=False) as pipe:
            for shard, some in enumerate(popped):
                if some:
                    pipe.sadd(_dirty(kind, shard), *some)
            await pipe.execute()
        raise
    return present
