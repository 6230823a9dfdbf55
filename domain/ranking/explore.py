"""Explore: posts from outside the viewer's graph, ranked by the served model.

Eligible posts are public posts of active accounts the viewer does not follow, not the
viewer's own, with no block either way, not hidden by reports, never seen by the viewer (no
view event, like or save) and never marked not interested (`ELIGIBLE_SQL`).

The `ranking` worker precomputes each active viewer's explore (`rank_explore`): the served
model's candidates for the viewer (co-engagement, factors, hashtags, popular, fresh), kept if
eligible, and the newest eligible posts the model has never seen (newer than it: judged by
their hashtags, author and age), all ordered by their value; then the diversity re-rank
(domain/ranking/rerank.py). A viewer the model does not know yet, or no model at all, gets the
cold-start heuristic instead: the newest eligible posts by engagement and freshness
(`domain.ranking.service.score`). The result is written as the viewer's *next* snapshot.

Reading: a first page takes the next snapshot if there is one (it becomes the current one,
kept SNAPSHOT_SECONDS, so cursors hold while paging) and asks for another to be computed (with
no next one, it asks at most every ASK_SECONDS: one is on its way); later pages read the
current one. A page leaves out what was seen or marked not interested since the snapshot was
made (`queue_gone`, from logViews and notInterested: a set in Redis, so a page asks
Postgres nothing). With no snapshot at all (a brand-new viewer's first look), the
heuristic one is computed in the request and a ranked one is asked for.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from redis.asyncio import Redis

from domain import replicas
from domain.graph.visibility import not_blocked_sql
from domain.ids import min_id_at
from domain.pagination import Page
from domain.ranking.items import Item, tags_of
from domain.ranking.rerank import rerank
from domain.ranking.served import Model, ServedModel
from domain.ranking.service import engagement_score

SNAPSHOT_SECONDS = 1_800
NEXT_SECONDS = 3_600
ASK_SECONDS = 30  # with no next snapshot, ask the worker for one at most this often
KEEP = 300  # posts per snapshot
FRESH = 200  # posts newer than the model, considered for each viewer
HEURISTIC_CANDIDATES = 500
HEURISTIC = "heuristic"

ELIGIBLE_SQL = f"""
    NOT p.hidden AND a.status = 'ACTIVE' AND NOT a.is_private AND p.author_id <> $1
    AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1
                    AND f.followee_id = p.author_id AND f.status = 'ACTIVE')
    AND {not_blocked_sql("$1", "p.author_id")}
    AND NOT EXISTS (SELECT 1 FROM not_interested n WHERE n.user_id = $1 AND n.post_id = p.id)
    AND NOT EXISTS (SELECT 1 FROM view_events e WHERE e.user_id = $1 AND e.post_id = p.id)
    AND NOT EXISTS (SELECT 1 FROM likes l WHERE l.user_id = $1 AND l.post_id = p.id)
    AND NOT EXISTS (SELECT 1 FROM saves s WHERE s.user_id = $1 AND s.post_id = p.id)"""


@dataclass(frozen=True)
class Snapshot:
    version: str  # the model that ranked it, or "heuristic"
    posts: list[int]

    def dump(self) -> str:
        return json.dumps({"version": self.version, "posts": self.posts})

    @classmethod
    def parse(cls, raw: str | bytes) -> Snapshot:
        data = json.loads(raw)
        return cls(str(data["version"]), [int(p) for p in data["posts"]])


def current_key(user_id: int) -> str:
    return f"explore:{{{user_id}}}"


def next_key(user_id: int) -> str:
    return f"explore:{{{user_id}}}:next"


def asked_key(user_id: int) -> str:
    return f"explore:{{{user_id}}}:asked"


def gone_key(user_id: int) -> str:
    return f"explore:{{{user_id}}}:gone"


def queue_gone(pipe: Any, user_id: int, post_ids: list[int]) -> None:
    """Queue in `pipe` that the viewer saw or refused these posts: left out of the explore
    pages from now on (the next snapshot leaves them out by itself; this covers the current
    one's lifetime)."""
    if post_ids:
        pipe.sadd(gone_key(user_id), *post_ids)
        pipe.expire(gone_key(user_id), NEXT_SECONDS + SNAPSHOT_SECONDS)


async def _eligible(user_id: int, post_ids: list[int]) -> dict[int, int]:
    """The eligible ones among these posts: post id -> author id."""
    if not post_ids:
        return {}
    rows = await replicas.rows(
        "/* explore.eligible */ SELECT p.id, p.author_id FROM posts p"
        " JOIN users a ON a.id = p.author_id"
        f" WHERE p.id = ANY($2::bigint[]) AND {ELIGIBLE_SQL}",
        [user_id, post_ids],
    )
    return {int(r["id"]): int(r["author_id"]) for r in rows}


async def _newest(user_id: int, *, since_id: int, limit: int) -> list[dict[str, Any]]:
    rows = await replicas.rows(
        "/* explore.newest */ SELECT p.id, p.author_id, p.created_at, p.like_count,"
        " p.comment_count, p.save_count, p.hashtags, p.kind"
        " FROM posts p JOIN users a ON a.id = p.author_id"
        f" WHERE p.id > $2 AND {ELIGIBLE_SQL} ORDER BY p.id DESC LIMIT $3",
        [user_id, since_id, limit],
    )
    return cast(list[dict[str, Any]], rows)


def _heuristic_order(rows: list[dict[str, Any]]) -> list[int]:
    now = datetime.now(UTC)
    ranked = sorted(rows, key=lambda r: (-engagement_score(r, now), -int(r["id"])))
    order = rerank(range(len(ranked)), [int(r["author_id"]) for r in ranked])
    return [int(ranked[i]["id"]) for i in order][:KEEP]


async def heuristic(user_id: int) -> Snapshot:
    """The cold-start explore: the newest eligible posts, by engagement and freshness."""
    rows = await _newest(user_id, since_id=0, limit=HEURISTIC_CANDIDATES)
    return Snapshot(HEURISTIC, _heuristic_order(rows))


async def ranked(user_id: int, model: Model) -> Snapshot | None:
    """The model's explore for a viewer it knows (None for one it does not)."""
    viewer = model.user_index(user_id)
    if viewer is None:
        return None
    funnel = model.funnel
    funnel.now[viewer] = time.time()  # rank for now, not for the training's moment
    found = funnel.candidates(np.array([viewer]))
    post_ids = model.item_ids(found.items[0])
    eligible = await _eligible(user_id, post_ids)
    keep = [n for n, post in enumerate(post_ids) if post in eligible]
    newer = await _newest(user_id, since_id=min_id_at(_at(model.trained_at)), limit=FRESH)
    fresh = [r for r in newer if str(r["id"]) not in model.items]
    facts = [
        Item(
            str(r["id"]),
            author=str(r["author_id"]),
            created=r["created_at"].timestamp(),
            tags=tags_of(r["hashtags"]),
            kind=str(r["kind"]),
        )
        for r in fresh
    ]
    rows = funnel.viewer_rows(viewer, found.items[0][keep], facts)
    values = funnel.value(rows) if len(rows) else np.empty(0)
    fresh_bit = 1 << len(funnel.sources)
    posts = [post_ids[n] for n in keep] + [int(r["id"]) for r in fresh]
    authors = [eligible[post_ids[n]] for n in keep] + [int(r["author_id"]) for r in fresh]
    bits = [int(found.tags[0][n]) for n in keep] + [fresh_bit] * len(fresh)
    order = np.argsort(-values, kind="stable").tolist()[: KEEP * 2]
    mixed = rerank(order, authors, bits)
    return Snapshot(model.version, [posts[i] for i in mixed][:KEEP])


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(max(seconds, 0.0), tz=UTC)


async def rank_explore(*, user_id: int, redis: Redis, served: ServedModel) -> Snapshot:
    """Compute the viewer's next explore snapshot (idempotent: a second run replaces it)."""
    model = await served.current()
    snapshot = await ranked(user_id, model) if model is not None else None
    if snapshot is None:
        snapshot = await heuristic(user_id)
    await redis.set(next_key(user_id), snapshot.dump(), ex=NEXT_SECONDS)
    return snapshot


@dataclass(frozen=True)
class ExplorePage:
    page: Page
    version: str


async def page(
    *, user_id: int, first: int, after: int | None, redis: Redis, refresh: Any
) -> ExplorePage:
    """A page of the viewer's explore; `after` is a position in their current snapshot.
    `refresh()` asks the ranking worker for the next snapshot."""
    raw: Any = None
    if after is None:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.getdel(next_key(user_id))
            pipe.get(current_key(user_id))
            pipe.set(asked_key(user_id), 1, nx=True, ex=ASK_SECONDS)
            pipe.smembers(gone_key(user_id))
            fresh, raw, ask, gone = await pipe.execute()
        if fresh is not None:  # consumed: it becomes the current one, and another is asked for
            raw = fresh
            await redis.set(current_key(user_id), raw, ex=SNAPSHOT_SECONDS)
        if fresh is not None or ask:
            await refresh()
    else:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.get(current_key(user_id))
            pipe.smembers(gone_key(user_id))
            raw, gone = await pipe.execute()
    if raw is None:
        snapshot = await heuristic(user_id)
        await redis.set(current_key(user_id), snapshot.dump(), ex=SNAPSHOT_SECONDS)
        after = None  # the snapshot passed (or there was none): start again at the top
    else:
        snapshot = Snapshot.parse(raw)
    start = 0 if after is None else after + 1
    chosen = snapshot.posts[start : start + first]
    left_out = {int(p) for p in gone}
    # positions stay the snapshot's, so a cursor never skips what was left out
    return ExplorePage(
        Page(
            [(start + i, post) for i, post in enumerate(chosen) if post not in left_out],
            start + first < len(snapshot.posts),
        ),
        snapshot.version,
    )
