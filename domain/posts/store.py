"""The read path for posts and comments (Redis first), with live counters merged in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiocache.base import BaseCache
from redis.asyncio import Redis

from domain.cache import RowCache, V
from domain.jsonb import decoded
from domain.posts import counters
from domain.reads import ReadBatch, Reads, read_alone

POST_COLUMNS = (
    "id, author_id, kind, caption, media_ids, hashtags, mention_ids, like_count, comment_count,"
    " save_count, created_at, edited_at, hidden, view_count, play_count"
)
COMMENT_COLUMNS = (
    "id, post_id, author_id, reply_to_id, text, like_count, reply_count, created_at, hidden"
)
_JSON_LISTS = ("media_ids", "hashtags", "mention_ids")


@dataclass(frozen=True, slots=True)
class PostView:
    id: int
    author_id: int
    kind: str
    caption: str
    media_ids: list[int]
    hashtags: list[str]
    mention_ids: list[int]
    like_count: int
    comment_count: int
    save_count: int
    created_at: datetime
    edited_at: datetime | None
    hidden: bool = False  # held for review: its author's only
    view_count: int = 0
    play_count: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PostView:
        values = {name: row[name] for name in cls.__slots__}
        for name in _JSON_LISTS:
            values[name] = decoded(values[name])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class CommentView:
    id: int
    post_id: int
    author_id: int
    reply_to_id: int | None
    text: str
    like_count: int
    reply_count: int
    created_at: datetime
    hidden: bool = False  # held for review: its author's only

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CommentView:
        return cls(**{name: row[name] for name in cls.__slots__})


class PostStore:
    def __init__(self, cache: BaseCache, redis: Redis, reads: Reads, *, ttl_seconds: int) -> None:
        self._reads = reads
        self.posts = RowCache[PostView](
            cache,
            redis,
            reads,
            kind="post",
            view=PostView,
            select_sql=f"/* posts.by_ids */ SELECT {POST_COLUMNS} FROM posts"
            " WHERE id = ANY($1::bigint[])",
            from_row=PostView.from_row,
            ttl_seconds=ttl_seconds,
        )
        self.comments = RowCache[CommentView](
            cache,
            redis,
            reads,
            kind="comment",
            view=CommentView,
            select_sql=f"/* comments.by_ids */ SELECT {COMMENT_COLUMNS} FROM comments"
            " WHERE id = ANY($1::bigint[])",
            from_row=CommentView.from_row,
            ttl_seconds=ttl_seconds,
        )

    def queue_posts(
        self, pipe: ReadBatch, ids: Sequence[int]
    ) -> Callable[[], Awaitable[dict[int, PostView]]]:
        """Queue the read of these posts with their live counters in `pipe` (see
        RowCache.queue_get for how to take the result)."""
        return _with_counters(pipe, self.posts, "post", ids)

    async def get_posts(self, ids: list[int]) -> dict[int, PostView]:
        posts = await read_alone(self._reads, lambda pipe: self.queue_posts(pipe, ids))
        return await posts

    async def get_comments(self, ids: list[int]) -> dict[int, CommentView]:
        comments = await read_alone(
            self._reads, lambda pipe: _with_counters(pipe, self.comments, "comment", ids)
        )
        return await comments


def _with_counters(
    pipe: ReadBatch, rows: RowCache[V], kind: counters.Kind, ids: Sequence[int]
) -> Callable[[], Awaitable[dict[int, V]]]:
    """Queue the read of these rows and their live counters, which the rows take on."""
    live = counters.queue_read(pipe, kind, ids)
    cached = rows.queue_get(pipe, ids)
    return lambda: cached(live())
