"""The view log (what people watch, for the ranking to learn from), not-interested marks, and
the reels feed.

`log_views` takes a client's batch of up to 100 events: events for posts that are not there
or not visible, or with a watch time below zero or past 10 minutes, are dropped and counted as
rejected; the rest are stored with the per-post totals in one transaction, then counted live
in Redis (`Post.viewCount`, `Post.playCount`). A batch id seen before returns its first answer
and stores nothing.

`reels` is short videos from everyone public the viewer may see (followed or not), ordered by
the served ranking model's value for the viewer (domain/ranking), or, for a viewer it does not
know or before one is trained, by a heuristic: freshness (half-life of a day), completion
rate, likes and plays; never one the viewer watched to the end in the last 7 days or marked not
interested, never two in a row by one author. The order is a snapshot per viewer (kept 10
minutes; a first page reuses one younger than a minute), so its cursors are stable while new
reels arrive; each page leaves out what was watched to the end or marked since (a set in
Redis, `_gone_key`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from tortoise import connections

from domain.errors import DomainError, ErrorCode
from domain.graph.visibility import visible_authors_sql
from domain.ids import next_id
from domain.pagination import Page
from domain.posts import counters
from domain.ranking import explore
from domain.ranking.items import Item, tags_of
from domain.ranking.rerank import rerank
from domain.ranking.served import ServedModel
from domain.reads import Reads
from domain.reels.models import Surface

MAX_EVENTS = 100
MAX_WATCHED_MS = 600_000
RETENTION_DAYS = 90
CANDIDATES = 500
SNAPSHOT_SECONDS = 600
FRESH_SECONDS = 60  # a first page reuses a snapshot this young (each page filters anew)
WATCHED_WINDOW = "7 days"


@dataclass(frozen=True)
class ViewInput:
    post_id: int | None  # None: not a post id at all (rejected)
    watched_ms: int
    completed: bool
    surface: Surface


@dataclass(frozen=True)
class Logged:
    accepted: int
    rejected: int


# One statement, so one round trip and atomic without a transaction around it: the events of
# posts the viewer may see are kept, the batch row is written with its counts, and only if it
# is new (not a retry) are the events and the per-post totals written; it answers whether the
# batch was new, how many were kept, and each post's views, plays and whether one was finished.
LOG_SQL = f"""/* views.log */
WITH given AS (
  SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::int[], $7::bool[])
    AS v(id, post_id, surface, watched, completed)
), kept AS (
  SELECT g.*, p.kind FROM given g JOIN posts p ON p.id = g.post_id
    JOIN users a ON a.id = p.author_id
  WHERE a.status = 'ACTIVE' AND {visible_authors_sql("p.author_id", "a.is_private", "$1")}
), batch AS (
  INSERT INTO view_batches (id, user_id, batch_id, accepted, rejected, created_at)
  SELECT $8, $1, $2, n, $9 - n, now() FROM (SELECT count(*) AS n FROM kept) c
  ON CONFLICT (user_id, batch_id) DO NOTHING RETURNING id
), events AS (
  INSERT INTO view_events (id, user_id, post_id, surface, watched_ms, completed, created_at)
  SELECT id, $1, post_id, surface, watched, completed, now() FROM kept
  WHERE EXISTS (SELECT 1 FROM batch)
), totals AS (
  SELECT post_id, count(*) AS views,
    count(*) FILTER (WHERE kind = 'REEL' AND watched > 0) AS plays, bool_or(completed) AS finished
  FROM kept WHERE EXISTS (SELECT 1 FROM batch) GROUP BY post_id
), summed AS (
  INSERT INTO post_view_totals (post_id, views, plays) SELECT post_id, views, plays FROM totals
  ON CONFLICT (post_id) DO UPDATE SET views = post_view_totals.views + EXCLUDED.views,
    plays = post_view_totals.plays + EXCLUDED.plays
)
SELECT (SELECT count(*) FROM batch) AS new, (SELECT count(*) FROM kept) AS accepted, t.*
FROM (SELECT 1) one LEFT JOIN totals t ON true"""


async def log_views(
    *, user_id: int, batch_id: str, events: list[ViewInput], redis: Redis
) -> Logged:
    batch_id = batch_id.strip()
    if not 1 <= len(batch_id) <= 64:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "batchId is 1 to 64 characters.", field="batchId"
        )
    if len(events) > MAX_EVENTS:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"At most {MAX_EVENTS} events a call.", field="events"
        )
    sane = [e for e in events if e.post_id is not None and 0 <= e.watched_ms <= MAX_WATCHED_MS]
    rows = await connections.get("default").execute_query_dict(
        LOG_SQL,
        [
            user_id,
            batch_id,
            [next_id() for _ in sane],
            [e.post_id for e in sane],
            [e.surface.value for e in sane],
            [e.watched_ms for e in sane],
            [e.completed for e in sane],
            next_id(),
            len(events),
        ],
    )
    if not rows[0]["new"]:  # a batch logged before (or racing in): its first answer
        earlier = await connections.get("default").execute_query_dict(
            "/* views.batch */ SELECT accepted, rejected FROM view_batches"
            " WHERE user_id = $1 AND batch_id = $2",
            [user_id, batch_id],
        )
        return Logged(int(earlier[0]["accepted"]), int(earlier[0]["rejected"]))
    logged = Logged(int(rows[0]["accepted"]), len(events) - int(rows[0]["accepted"]))
    per_post = {
        int(r["post_id"]): (int(r["views"]), int(r["plays"]))
        for r in rows
        if r["post_id"] is not None
    }
    finished = sorted(int(r["post_id"]) for r in rows if r["finished"])
    deltas = [(post, "view_count", t[0]) for post, t in per_post.items()]
    deltas += [(post, "play_count", t[1]) for post, t in per_post.items() if t[1]]
    await counters.bump_many(redis, "post", deltas)
    await _mark_gone(redis, user_id, seen=list(per_post), finished=finished)
    return logged


async def purge_old_events(*, days: int = RETENTION_DAYS) -> int:
    rows = await connections.get("default").execute_query_dict(
        "/* views.purge */ DELETE FROM view_events WHERE id IN (SELECT id FROM view_events"
        " WHERE created_at < now() - make_interval(days => $1) LIMIT 10000) RETURNING id",
        [days],
    )
    await connections.get("default").execute_query(
        "/* views.purge_batches */ DELETE FROM view_batches"
        " WHERE created_at < now() - make_interval(days => $1)",
        [days],
    )
    return len(rows)


async def not_interested(*, user_id: int, post_id: int, redis: Redis) -> None:
    """The viewer never sees this post again on reels (or explore), from the next page on;
    idempotent. The caller has checked that the viewer may see it."""
    await connections.get("default").execute_query(
        "/* reels.not_interested */ INSERT INTO not_interested (id, user_id, post_id, created_at)"
        " VALUES ($1, $2, $3, now()) ON CONFLICT (user_id, post_id) DO NOTHING",
        [next_id(), user_id, post_id],
    )
    await _mark_gone(redis, user_id, seen=[post_id], finished=[post_id])


def _snapshot_key(user_id: int) -> str:
    return f"reels:{{{user_id}}}"


def _gone_key(user_id: int) -> str:
    """Reels watched to the end or refused since the viewer's snapshot was made: left out of
    its pages (the next snapshot leaves them out by itself), so a page asks Postgres nothing."""
    return f"reels:{{{user_id}}}:gone"


async def _mark_gone(redis: Redis, user_id: int, *, seen: list[int], finished: list[int]) -> None:
    """Posts seen (or refused) leave explore's pages, and those finished (or refused) leave
    the reels' pages, from the next page on: one round trip for both."""
    if not seen and not finished:
        return
    async with redis.pipeline(transaction=False) as pipe:
        explore.queue_gone(pipe, user_id, seen)
        if finished:
            pipe.sadd(_gone_key(user_id), *finished)
            pipe.expire(_gone_key(user_id), SNAPSHOT_SECONDS)
        await pipe.execute()


def _score(row: dict[str, Any], now: float) -> float:
    age_days = max(0.0, now - row["created_at"].timestamp()) / 86_400
    freshness = math.pow(0.5, age_days)
    plays = int(row["plays"] or 0)
    completion = (int(row["completions"] or 0) + 1) / (plays + 2)
    engagement = math.log1p(int(row["like_count"] or 0)) + 0.5 * math.log1p(plays)
    return 3.0 * freshness + 2.0 * completion + 0.5 * engagement


def _item(row: dict[str, Any]) -> Item:
    return Item(
        str(row["id"]),
        author=str(row["author_id"]),
        created=row["created_at"].timestamp(),
        tags=tags_of(row["hashtags"]),
        kind="REEL",
    )


async def _ranked(user_id: int, served: ServedModel | None) -> list[int]:
    rows = await connections.get("default").execute_query_dict(
        "/* reels.candidates */ SELECT p.id, p.author_id, p.created_at, p.like_count, p.hashtags,"
        " coalesce(t.plays, 0) AS plays, (SELECT count(*) FROM view_events e"
        "  WHERE e.post_id = p.id AND e.completed) AS completions"
        " FROM posts p JOIN users a ON a.id = p.author_id"
        " LEFT JOIN post_view_totals t ON t.post_id = p.id"
        " WHERE p.kind = 'REEL' AND NOT p.hidden AND a.status = 'ACTIVE' AND p.author_id <> $1"
        f" AND {visible_authors_sql('p.author_id', 'a.is_private', '$1')}"
        " AND NOT EXISTS (SELECT 1 FROM not_interested n WHERE n.user_id = $1"
        "  AND n.post_id = p.id)"
        " AND NOT EXISTS (SELECT 1 FROM view_events e WHERE e.user_id = $1 AND e.post_id = p.id"
        f"  AND e.completed AND e.created_at > now() - interval '{WATCHED_WINDOW}')"
        " ORDER BY p.id DESC LIMIT $2",
        [user_id, CANDIDATES],
    )
    model = await served.current(wait=False) if served is not None else None
    values = model.values(user_id, [_item(r) for r in rows]) if model is not None else None
    now = time.time()
    if values is not None:
        ranked = sorted(rows, key=lambda r: (-values[str(r["id"])], -int(r["id"])))
    else:
        ranked = sorted(rows, key=lambda r: (-_score(r, now), -int(r["id"])))
    # Never two in a row by one author: the next best by someone else goes between.
    order = rerank(range(len(ranked)), [int(r["author_id"]) for r in ranked], spacing=2)
    return [int(ranked[i]["id"]) for i in order]


async def page(
    *,
    user_id: int,
    first: int,
    after: int | None,
    redis: Redis,
    reads: Reads,
    served: ServedModel | None = None,
) -> Page:
    """A page of the viewer's reels; `after` is a position in their snapshot (its index).
    With a served model that knows the viewer, it orders them (else the heuristic above)."""
    key = _snapshot_key(user_id)
    batch = reads.batch()
    snapshot, gone_reply = batch.get(key), batch.smembers(_gone_key(user_id))
    await batch.execute()
    raw, gone_since = snapshot.value, gone_reply.value
    saved = orjson.loads(raw) if raw is not None else None
    if isinstance(saved, list):  # a snapshot from before snapshots carried their age
        saved = {"made": 0.0, "order": saved}
    young = saved is not None and time.time() - float(saved["made"]) < FRESH_SECONDS
    if saved is None or (after is None and not young):
        order = await _ranked(user_id, served)
        snapshot_json = orjson.dumps({"made": time.time(), "order": order})
        await redis.set(key, snapshot_json, ex=SNAPSHOT_SECONDS)
        if after is not None:
            after = None  # the snapshot passed: start again at the top
    else:
        order = saved["order"]
    start = 0 if after is None else after + 1
    chosen = order[start : start + first]
    gone = {int(p) for p in gone_since}
    # positions stay the snapshot's, so a cursor never skips what was left out
    return Page(
        [(start + i, post) for i, post in enumerate(chosen) if post not in gone],
        start + first < len(order),
    )
