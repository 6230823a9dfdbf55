"""The Redis side of stories: who has live ones, what each viewer has seen, and the rows.

The tray is assembled at read time from per-author sets, never written per follower: a story
of an account with 100,000 followers is one ZADD, and a viewer's tray is two batched round
trips (which of the accounts they follow have live stories, from `stories:live`; then those
accounts' `stories:{author}`, live story ids by expiry) plus their own seen set
(`seen:{viewer}`: story ids by expiry, trimmed as they pass). Expiry is checked at read (by
score), and a cron job drops what has passed."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from aiocache.base import BaseCache
from redis.asyncio import Redis

from domain.cache import RowCache
from domain.jsonb import decoded
from domain.reads import Reads
from domain.users.store import CHANGED, CHANGED_KEPT_MS, queue_note_changed
from domain.users.store import now_ms as now_ms  # the stories' clock, read here by the rest

STORY_COLUMNS = (
    "id, author_id, media_id, audience, caption, mention_ids, view_count, created_at, expires_at"
)
LIVE_AUTHORS = "stories:live"  # author -> the expiry of their newest story (ms)


def stories_key(author_id: int) -> str:
    return f"stories:{{{author_id}}}"


def seen_key(viewer_id: int) -> str:
    return f"seen:{{{viewer_id}}}"


def affinity_key(viewer_id: int) -> str:
    return f"affinity:{{{viewer_id}}}"


@dataclass(frozen=True, slots=True)
class StoryView:
    id: int
    author_id: int
    media_id: int
    audience: str
    caption: str
    mention_ids: list[int]
    view_count: int
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StoryView:
        values = {name: row[name] for name in cls.__slots__}
        values["mention_ids"] = decoded(values["mention_ids"])
        return cls(**values)

    def live_at(self, now_ms: int) -> bool:
        return self.expires_at.timestamp() * 1000 > now_ms


class StoryStore:
    def __init__(self, cache: BaseCache, redis: Redis, reads: Reads, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.reads = reads
        self.rows = RowCache[StoryView](
            cache,
            redis,
            reads,
            kind="story",
            view=StoryView,
            select_sql=f"/* stories.by_ids */ SELECT {STORY_COLUMNS} FROM stories"
            " WHERE id = ANY($1::bigint[])",
            from_row=StoryView.from_row,
            ttl_seconds=ttl_seconds,
        )

    async def add_live(self, story: StoryView) -> None:
        expires = int(story.expires_at.timestamp() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(stories_key(story.author_id), {str(story.id): expires})
            pipe.pexpireat(stories_key(story.author_id), expires)
            pipe.zadd(LIVE_AUTHORS, {str(story.author_id): expires}, gt=True)
            queue_note_changed(pipe, story.author_id)
            await pipe.execute()

    async def live_ids(self, author_ids: Iterable[int], *, at_ms: int) -> dict[int, list[int]]:
        """Each author's live story ids, oldest first: which of the authors have any is one
        ZMSCORE of the live authors' set, then only those authors' sets are read (a viewer
        following 1,000 accounts of which 200 have stories reads 200, not 1,000), each in one
        batch over the hiredis connection."""
        authors = list(author_ids)
        if not authors:
            return {}
        batch = self.reads.batch()
        newest = batch.zmscore(LIVE_AUTHORS, authors)
        await batch.execute()
        live = [a for a, expiry in zip(authors, newest.value, strict=True) if (expiry or 0) > at_ms]
        if not live:
            return {}
        batch = self.reads.batch()
        replies = [batch.zrangebyscore(stories_key(a), f"({at_ms}", "+inf") for a in live]
        await batch.execute()
        return {a: [int(i) for i in r.value] for a, r in zip(live, replies, strict=True) if r.value}

    async def seen(self, viewer_id: int, *, at_ms: int) -> set[int]:
        key = seen_key(viewer_id)
        ids = await cast(Awaitable[list[str]], self.redis.zrangebyscore(key, f"({at_ms}", "+inf"))
        return {int(i) for i in ids}

    async def mark_seen(self, viewer_id: int, stories: list[StoryView], *, at_ms: int) -> None:
        key = seen_key(viewer_id)
        scores = {str(s.id): int(s.expires_at.timestamp() * 1000) for s in stories}
        if not scores:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, scores)
            pipe.zremrangebyscore(key, "-inf", at_ms)  # the seen state passes with its story
            pipe.pexpire(key, 86_400_000)  # no story outlives a day from now
            _touch(pipe, viewer_id)
            await pipe.execute()

    async def remove_live(self, author_id: int, story_id: int) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(stories_key(author_id), str(story_id))
            queue_note_changed(pipe, author_id)
            await pipe.execute()

    async def expire(self, *, at_ms: int) -> int:
        """Drop passed stories from the authors' sets; returns how many authors were swept."""
        authors = await cast(
            Awaitable[list[str]], self.redis.zrangebyscore(LIVE_AUTHORS, "-inf", at_ms)
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for author in authors:
                pipe.zremrangebyscore(stories_key(int(author)), "-inf", at_ms)
            pipe.zremrangebyscore(LIVE_AUTHORS, "-inf", at_ms)
            pipe.zremrangebyscore(CHANGED, "-inf", at_ms - CHANGED_KEPT_MS)
            await pipe.execute()
        return len(authors)

    async def touch(self, *viewer_ids: int) -> None:
        """What these viewers see in their trays changed (a close friends list)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for viewer in viewer_ids:
                _touch(pipe, viewer)
            await pipe.execute()

    async def bump_affinity(self, viewer_id: int, author_id: int, weight: float) -> None:
        """The viewer engaged with the author (a like, a comment, a message, a story seen):
        their reels come earlier in the viewer's tray. Kept 30 days from the last bump."""
        if viewer_id == author_id:
            return
        key = affinity_key(viewer_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zincrby(key, weight, str(author_id))
            pipe.expire(key, 30 * 86_400)
            _touch(pipe, viewer_id)
            await pipe.execute()

    async def affinity(self, viewer_id: int, author_ids: list[int]) -> dict[int, float]:
        if not author_ids:
            return {}
        scores = await cast(
            Awaitable[list[float | None]],
            self.redis.zmscore(affinity_key(viewer_id), [str(a) for a in author_ids]),
        )
        return {a: s or 0.0 for a, s in zip(author_ids, scores, strict=True)}


def tray_version_key(viewer_id: int) -> str:
    """The viewer's tray version: what they did that changes their tray bumps it (see
    domain/stories/tray_cache)."""
    return f"tray:v:{{{viewer_id}}}"


def _touch(pipe: Any, viewer_id: int) -> None:
    pipe.incr(tray_version_key(viewer_id))
    pipe.expire(tray_version_key(viewer_id), 86_400)
