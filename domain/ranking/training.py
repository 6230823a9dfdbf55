"""Training the served ranking model on Shutter's own interaction log (the `train_ranker` job).

The log of the last WINDOW_DAYS:
- engagements, the sources' input: likes, comments, saves, shares (a post sent in a message)
  and videos watched to the end, weighted by ENGAGEMENT_WEIGHTS;
- impressions, the ranker's rows: every view event (`logViews`), labelled by what the viewer
  did with that post (liked, commented, saved, shared, watched to the end, marked not
  interested) or as a quick skip (under SKIP_MS watched, nothing done); an impression that led
  to nothing is a negative;
- the catalog: posts of the window with their author, time and hashtags, so posts nobody has
  engaged with yet are known to the hashtag and fresh sources.

Validation is a time split: the funnel trains on what happened before the newest
VALIDATION_SHARE of impressions and is scored on those (AUC of its value, any positive action
counting as the positive class). It replaces the served model only when that beats the served
model's own validation AUC (recorded when it was trained), or when the served model is older
than STALE_AFTER and the new one is within STALE_TOLERANCE of it (the world moves on: a model
that has not seen a day of posts goes stale however good it was). A replacing model is then
fitted on the whole log, written to object storage as `models/ranking/<version>.zip` and
named in Redis (`ranking:model`), where every process picks it up (domain/ranking/served.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
from redis.asyncio import Redis
from tortoise import connections

from domain.ids import SEQUENCE_BITS, SHUTTER_EPOCH_MS, SLOT_BITS, min_id_at
from domain.ranking import artifact
from domain.ranking.items import Item, tags_of
from domain.ranking.log import Event, InteractionLog, build
from domain.ranking.ranker import Funnel, Impressions
from domain.ranking.served import MODEL_KEY, MODEL_PREFIX, served_info

log = logging.getLogger(__name__)

WINDOW_DAYS = 30
MAX_ROWS = 2_000_000  # per kind: a bound on one training's memory
VALIDATION_SHARE = 0.2
MIN_VALIDATION = 20  # impressions, with both classes among them
SKIP_MS = 1_000
STALE_AFTER = timedelta(days=1)
STALE_TOLERANCE = 0.02
ENGAGEMENT_WEIGHTS = {"like": 1.0, "comment": 2.0, "save": 2.0, "share": 2.0, "complete": 0.5}
POSITIVE = ("like", "comment", "save", "share", "complete")


@dataclass(frozen=True)
class Trained:
    version: str | None  # the published version, None when the served model stays
    auc: float | None
    served_auc: float | None
    engagements: int
    validation_impressions: int
    reason: str


def _seconds(ids: np.ndarray) -> np.ndarray:
    """The time an id was made (seconds since the Unix epoch), from its top bits."""
    return ((ids >> (SLOT_BITS + SEQUENCE_BITS)) + SHUTTER_EPOCH_MS) / 1000.0


async def _rows(sql: str, args: list[Any]) -> list[dict[str, Any]]:
    return cast(
        list[dict[str, Any]], await connections.get("default").execute_query_dict(sql, args)
    )


async def collect(days: int = WINDOW_DAYS) -> tuple[InteractionLog, Impressions]:
    """The window's engagements (with the catalog) and impressions, read from Postgres."""
    since = min_id_at(datetime.now(UTC) - timedelta(days=days))
    engaged = await _rows(
        "/* ranking.engagements */ SELECT e.user_id, e.post_id, e.id, e.action, p.author_id"
        " FROM (SELECT user_id, post_id, id, 'like' AS action FROM likes WHERE id >= $1"
        "  UNION ALL SELECT author_id, post_id, id, 'comment' FROM comments"
        "   WHERE id >= $1 AND NOT hidden"
        "  UNION ALL SELECT user_id, post_id, id, 'save' FROM saves WHERE id >= $1"
        "  UNION ALL SELECT sender_id, post_id, id, 'share' FROM messages"
        "   WHERE post_id IS NOT NULL AND id >= $1"
        "  UNION ALL SELECT user_id, post_id, id, 'complete' FROM view_events"
        "   WHERE completed AND id >= $1) e"
        " JOIN posts p ON p.id = e.post_id WHERE p.author_id <> e.user_id"
        " ORDER BY e.id LIMIT $2",
        [since, MAX_ROWS],
    )
    posts = await _rows(
        "/* ranking.catalog */ SELECT id, author_id, hashtags, kind FROM posts"
        " WHERE id >= $1 AND NOT hidden ORDER BY id LIMIT $2",
        [since, MAX_ROWS],
    )
    shown = await _rows(
        "/* ranking.impressions */ SELECT v.user_id, v.post_id, v.id, v.watched_ms, v.completed"
        " FROM view_events v JOIN posts p ON p.id = v.post_id"
        " WHERE v.id >= $1 AND p.author_id <> v.user_id ORDER BY v.id LIMIT $2",
        [since, MAX_ROWS],
    )
    marked = await _rows(
        "/* ranking.not_interested */ SELECT user_id, post_id FROM not_interested"
        " WHERE id >= $1 LIMIT $2",
        [since, MAX_ROWS],
    )
    made = _seconds(np.array([int(p["id"]) for p in posts], dtype=np.int64))
    catalog = [
        Item(
            str(p["id"]),
            author=str(p["author_id"]),
            created=float(at),
            tags=tags_of(p["hashtags"]),
            kind=str(p["kind"]),
        )
        for p, at in zip(posts, made, strict=True)
    ]
    times = _seconds(np.array([int(r["id"]) for r in engaged], dtype=np.int64))
    events = [
        Event(
            str(r["user_id"]),
            str(r["post_id"]),
            float(t),
            ENGAGEMENT_WEIGHTS[r["action"]],
            author=str(r["author_id"]),
        )
        for r, t in zip(engaged, times, strict=True)
    ]
    interaction_log = build(events, catalog)
    users = {u: n for n, u in enumerate(interaction_log.user_ids)}
    items = {i: n for n, i in enumerate(interaction_log.item_ids)}
    done: dict[str, set[tuple[str, str]]] = {a: set() for a in POSITIVE}
    for r in engaged:
        done[r["action"]].add((str(r["user_id"]), str(r["post_id"])))
    refused = {(str(r["user_id"]), str(r["post_id"])) for r in marked}
    # A viewer who never engaged has no history to rank from: their impressions teach nothing.
    kept = [r for r in shown if str(r["user_id"]) in users and str(r["post_id"]) in items]
    pairs = [(str(r["user_id"]), str(r["post_id"])) for r in kept]
    labels = {
        action: np.array([p in done[action] for p in pairs], dtype=bool)
        for action in POSITIVE
        if action != "complete"
    }
    labels["complete"] = np.array([bool(r["completed"]) for r in kept], dtype=bool)
    labels["not_interested"] = np.array([p in refused for p in pairs], dtype=bool)
    acted = np.zeros(len(kept), dtype=bool)
    for action in POSITIVE:
        acted |= labels[action]
    labels["skip"] = (
        np.array([int(r["watched_ms"]) < SKIP_MS for r in kept], dtype=bool)
        & ~acted
        & ~labels["not_interested"]
    )
    impressions = Impressions(
        users=np.array([users[u] for u, _ in pairs], dtype=np.int64),
        items=np.array([items[i] for _, i in pairs], dtype=np.int64),
        times=_seconds(np.array([int(r["id"]) for r in kept], dtype=np.int64)),
        labels=labels,
    )
    return interaction_log, impressions


def positive(impressions: Impressions) -> np.ndarray:
    out = np.zeros(len(impressions.users), dtype=bool)
    for action in POSITIVE:
        if action in impressions.labels:
            out |= impressions.labels[action]
    return out


def validation_auc(
    interaction_log: InteractionLog, impressions: Impressions, seed: int = 0
) -> tuple[float | None, int]:
    """The AUC on the newest VALIDATION_SHARE of impressions of a funnel trained on what came
    before them (None when they are too few, or of one class), and their number."""
    if len(impressions.users) < MIN_VALIDATION:
        return None, 0
    older, held, split = impressions.split_newest(VALIDATION_SHARE)
    labels = positive(held)
    if len(held.users) < MIN_VALIDATION or labels.all() or not labels.any():
        return None, len(held.users)
    funnel = Funnel(seed=seed)
    funnel.fit(interaction_log.subset(interaction_log.times < split), impressions=older)
    funnel.now[:] = split
    order = np.argsort(held.users, kind="stable")
    users = held.users[order]
    viewers, starts = np.unique(users, return_index=True)
    bounds = np.r_[starts, users.size]
    items = [held.items[order][bounds[n] : bounds[n + 1]] for n in range(viewers.size)]
    step = funnel.batch
    values = np.concatenate(
        [
            funnel.value(
                funnel.features(viewers[n : n + step], items[n : n + step], include_seen=True)
            )
            for n in range(0, viewers.size, step)
        ]
    )
    return auc(values, labels[order]), len(held.users)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """The probability that a positive scores above a negative (ties count half)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    pos = float(labels.sum())
    neg = float(labels.size - pos)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _should_replace(
    new: float | None, served: dict[str, Any] | None, now: datetime
) -> tuple[bool, str]:
    if served is None:
        return True, "no model was served"
    old = served.get("auc")
    if new is None:
        return False, "too few recent impressions to validate on"
    if old is None:
        return True, "the served model had no validation figure"
    if new > old:
        return True, f"validation AUC {new:.4f} beats the served {old:.4f}"
    trained = datetime.fromisoformat(served["trained_at"])
    if now - trained > STALE_AFTER and new >= old - STALE_TOLERANCE:
        return True, f"the served model is stale and {new:.4f} is within reach of {old:.4f}"
    return False, f"validation AUC {new:.4f} does not beat the served {old:.4f}"


async def train(*, redis: Redis, store: Any, seed: int = 0) -> Trained:
    """Train, validate and (when it is better) publish a new served model."""
    started = time.perf_counter()
    interaction_log, impressions = await collect()
    # The fitting is CPU work: off the event loop, so the worker's other jobs go on meanwhile.
    score, held = await asyncio.to_thread(validation_auc, interaction_log, impressions, seed)
    served = await served_info(redis)
    now = datetime.now(UTC)
    replace, reason = _should_replace(score, served, now)
    figures = {"engagements": len(interaction_log), "impressions": len(impressions.users)}
    served_auc = served.get("auc") if served else None
    if not len(interaction_log):
        replace, reason = False, "no engagements to learn from"
    if not replace:
        return Trained(None, score, served_auc, len(interaction_log), held, reason)
    funnel = Funnel(seed=seed)
    await asyncio.to_thread(funnel.fit, interaction_log, None, impressions)
    digest = hashlib.sha256(f"{now.isoformat()}:{len(interaction_log)}".encode()).hexdigest()
    version = f"{now:%Y%m%dT%H%M%SZ}-{digest[:8]}"
    metrics = {"auc": score, "validation_impressions": held, **figures}
    blob = await asyncio.to_thread(artifact.dump, funnel, version=version, metrics=metrics)
    key = f"{MODEL_PREFIX}{version}.zip"
    await store.put(key, blob, "application/zip")
    info = {
        "version": version,
        "key": key,
        "auc": score,
        "trained_at": now.isoformat(),
        "seconds": round(time.perf_counter() - started, 3),
        **figures,
    }
    await redis.set(MODEL_KEY, json.dumps(info))
    log.info("ranking model %s published: %s", version, reason)
    return Trained(version, score, served_auc, len(interaction_log), held, reason)
