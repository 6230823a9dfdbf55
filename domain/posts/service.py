"""Creating, editing and deleting posts; likes, saves and comments.

Every write is idempotent where the API promises it (liking twice, unliking a post not liked)
and all-or-nothing: a post, its media, hashtags, mentions and the author's count are written in
one transaction, so a refused or failed request leaves nothing behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis.asyncio import Redis
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode, not_found
from domain.feed.store import FeedStore
from domain.graph.visibility import not_blocked_sql
from domain.ids import next_id
from domain.jsonb import decoded
from domain.media.store import MediaStore
from domain.media.video import MAX_SECONDS as MAX_REEL_SECONDS
from domain.posts import captions, counters
from domain.posts.models import PostKind
from domain.posts.store import PostStore
from domain.users.store import UserStore

MAX_MEDIA = 10
MAX_COMMENT = 2_200


@dataclass(frozen=True)
class Stores:
    """What post writes touch besides Postgres; built once by the composition root."""

    redis: Redis
    users: UserStore
    media: MediaStore
    posts: PostStore
    feeds: FeedStore


@dataclass(frozen=True)
class NewPost:
    id: int
    mention_ids: list[int]  # the accounts its caption mentions that exist and may be told


def _refuse(message: str, field: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field=field)


async def _attach_media(
    conn: BaseDBAsyncClient, *, owner_id: int, media_ids: list[int]
) -> list[dict[str, object]]:
    rows = await conn.execute_query_dict(
        "/* posts.attach_media */ UPDATE media SET attached_at = now(), updated_at = now()"
        " WHERE id = ANY($1::bigint[]) AND owner_id = $2 AND status = 'READY'"
        " AND attached_at IS NULL RETURNING id, kind, duration_ms",
        [media_ids, owner_id],
    )
    if len(rows) == len(media_ids):
        by_id = {row["id"]: row for row in rows}
        return [by_id[i] for i in media_ids]
    attached = {row["id"] for row in rows}
    states = await conn.execute_query_dict(
        "/* posts.media_states */ SELECT id, owner_id, status, attached_at FROM media"
        " WHERE id = ANY($1::bigint[])",
        [media_ids],
    )
    known = {row["id"]: row for row in states}
    for position, media_id in enumerate(media_ids):
        if media_id in attached:
            continue
        row = known.get(media_id)
        if row is None or row["owner_id"] != owner_id:
            raise _refuse(f"Media #{position + 1} does not exist.", "mediaIds")
        if row["status"] != "READY":
            raise _refuse(f"Media #{position + 1} is {row['status']}, not READY yet.", "mediaIds")
        raise _refuse(f"Media #{position + 1} is already used by another post.", "mediaIds")
    raise _refuse("The media cannot be used.", "mediaIds")  # pragma: no cover - raced


async def _mention_ids(conn: BaseDBAsyncClient, *, author_id: int, names: list[str]) -> list[int]:
    """Mentioned accounts that exist and are not on either side of a block with the author."""
    if not names:
        return []
    rows = await conn.execute_query_dict(
        "/* posts.resolve_mentions */ SELECT u.id, u.username FROM users u"
        " WHERE u.status = 'ACTIVE'"
        f" AND u.username = ANY($1::text[]) AND u.id <> $2 AND {not_blocked_sql('$2', 'u.id')}",
        [names, author_id],
    )
    by_name = {row["username"]: row["id"] for row in rows}
    return [by_name[name] for name in names if name in by_name]


# hashtags.post_count counts public posts only (a private account's posts are not the public's
# to count): a post counts when its author is public as it is tagged or untagged, so the count
# is approximate for an account that changed its privacy since.
_COUNTED = "(SELECT CASE WHEN is_private THEN 0 ELSE 1 END FROM users WHERE id = $3)"


async def _link_hashtags(
    conn: BaseDBAsyncClient, *, post_id: int, author_id: int, names: list[str]
) -> None:
    if not names:
        return
    rows = await conn.execute_query_dict(
        "/* posts.upsert_hashtags */ INSERT INTO hashtags (id, name, post_count)"
        f" SELECT t.id, t.name, {_COUNTED} FROM unnest($1::bigint[], $2::text[]) AS t(id, name)"
        " ON CONFLICT (name) DO UPDATE SET post_count = hashtags.post_count + EXCLUDED.post_count"
        " RETURNING id",
        [[next_id() for _ in names], names, author_id],
    )
    ids = [row["id"] for row in rows]
    await conn.execute_query(
        "/* posts.link_hashtags */ INSERT INTO post_hashtags (id, hashtag_id, post_id)"
        " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])",
        [[next_id() for _ in ids], ids, [post_id] * len(ids)],
    )


async def _unlink_hashtags(
    conn: BaseDBAsyncClient, *, post_id: int, author_id: int, names: list[str] | None
) -> None:
    """Untag the post (of all its hashtags when `names` is None)."""
    if names == []:
        return
    await conn.execute_query(
        "/* posts.unlink_hashtags */ WITH gone AS (DELETE FROM post_hashtags ph USING hashtags h"
        " WHERE ph.post_id = $1 AND ph.hashtag_id = h.id"
        " AND ($2::text[] IS NULL OR h.name = ANY($2::text[])) RETURNING ph.hashtag_id)"
        f" UPDATE hashtags SET post_count = GREATEST(post_count - {_COUNTED}, 0)"
        " WHERE id IN (SELECT hashtag_id FROM gone)",
        [post_id, names, author_id],
    )


async def _link_mentions(conn: BaseDBAsyncClient, *, post_id: int, user_ids: list[int]) -> None:
    if user_ids:
        await conn.execute_query(
            "/* posts.link_mentions */ INSERT INTO post_mentions (id, post_id, user_id)"
            " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])",
            [[next_id() for _ in user_ids], [post_id] * len(user_ids), user_ids],
        )


async def create_post(
    *,
    author_id: int,
    media_ids: list[int],
    caption: str,
    stores: Stores,
    reel: bool = False,
) -> NewPost:
    """A PHOTO (one media), CAROUSEL (2-10) or REEL (one video), committed. Only this write:
    `flows.create_post` is what a caller wants (feeds, fan-out, notifications)."""
    field = "mediaId" if reel else "mediaIds"
    if reel and len(media_ids) != 1:
        raise _refuse("A reel has exactly one video.", field)
    if not 1 <= len(media_ids) <= MAX_MEDIA:
        raise _refuse(f"A post has 1 to {MAX_MEDIA} photos or videos.", field)
    if len(set(media_ids)) != len(media_ids):
        raise _refuse("The same media appears twice.", field)
    parsed = captions.parse(caption)
    post_id = next_id()
    async with in_transaction() as conn:
        media = await _attach_media(conn, owner_id=author_id, media_ids=media_ids)
        if reel:
            if media[0]["kind"] != "VIDEO":
                raise _refuse("A reel is a video.", field)
            if int(str(media[0]["duration_ms"] or 0)) > MAX_REEL_SECONDS * 1000:
                raise _refuse(f"Reels are at most {MAX_REEL_SECONDS} seconds.", field)
        kind = (
            PostKind.REEL if reel else (PostKind.CAROUSEL if len(media_ids) > 1 else PostKind.PHOTO)
        )
        mentions = await _mention_ids(conn, author_id=author_id, names=parsed.mentions)
        await conn.execute_query(
            "/* posts.insert */ INSERT INTO posts (id, author_id, kind, caption, media_ids,"
            " hashtags, mention_ids, like_count, comment_count, save_count, created_at)"
            " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, 0, 0, 0, now())",
            [
                post_id,
                author_id,
                kind.value,
                parsed.text,
                _json(media_ids),
                _json(parsed.hashtags),
                _json(mentions),
            ],
        )
        await _link_hashtags(conn, post_id=post_id, author_id=author_id, names=parsed.hashtags)
        await _link_mentions(conn, post_id=post_id, user_ids=mentions)
        await conn.execute_query(
            "/* posts.author_count */ UPDATE users SET post_count = post_count + 1 WHERE id = $1",
            [author_id],
        )
        # The outbox row of its fan-out, in the same transaction (see domain/feed/models.py).
        await conn.execute_query(
            "/* posts.fanout_outbox */ INSERT INTO fanouts (post_id, author_id, after_follow_id,"
            " attempts, updated_at) VALUES ($1, $2, 0, 0, now())",
            [post_id, author_id],
        )
    await stores.users.invalidate(author_id)
    await stores.media.invalidate(*media_ids)
    return NewPost(post_id, mentions)


def _json(value: object) -> str:
    return json.dumps(value)


async def _own_post(
    conn: BaseDBAsyncClient, *, post_id: int, viewer_id: int, action: str
) -> dict[str, object]:
    rows = await conn.execute_query_dict(
        "/* posts.for_update */ SELECT id, author_id, hashtags, media_ids FROM posts"
        " WHERE id = $1 FOR UPDATE",
        [post_id],
    )
    if not rows:
        raise not_found("post", field="postId")
    if rows[0]["author_id"] != viewer_id:
        raise DomainError(
            ErrorCode.FORBIDDEN, f"Only the author can {action} a post.", field="postId"
        )
    return rows[0]


async def edit_post(*, post_id: int, viewer_id: int, caption: str, stores: Stores) -> None:
    parsed = captions.parse(caption)
    async with in_transaction() as conn:
        row = await _own_post(conn, post_id=post_id, viewer_id=viewer_id, action="edit")
        old_tags = [str(tag) for tag in decoded(row["hashtags"])]
        mentions = await _mention_ids(conn, author_id=viewer_id, names=parsed.mentions)
        await conn.execute_query(
            "/* posts.edit */ UPDATE posts SET caption = $2, hashtags = $3::jsonb,"
            " mention_ids = $4::jsonb, edited_at = now() WHERE id = $1",
            [post_id, parsed.text, _json(parsed.hashtags), _json(mentions)],
        )
        await _unlink_hashtags(
            conn,
            post_id=post_id,
            author_id=viewer_id,
            names=[t for t in old_tags if t not in parsed.hashtags],
        )
        await _link_hashtags(
            conn,
            post_id=post_id,
            author_id=viewer_id,
            names=[t for t in parsed.hashtags if t not in old_tags],
        )
        await conn.execute_query(
            "/* posts.clear_mentions */ DELETE FROM post_mentions WHERE post_id = $1", [post_id]
        )
        await _link_mentions(conn, post_id=post_id, user_ids=mentions)
    await stores.posts.posts.invalidate(post_id)


async def delete_post(*, post_id: int, viewer_id: int, stores: Stores) -> list[int]:
    """Delete a post and everything hanging off it; returns its media ids, whose files the
    caller has removed by a job."""
    async with in_transaction() as conn:
        row = await _own_post(conn, post_id=post_id, viewer_id=viewer_id, action="delete")
        media_ids = [int(str(i)) for i in decoded(row["media_ids"])]
        comment_rows = await conn.execute_query_dict(
            "/* posts.delete_comments */ DELETE FROM comments WHERE post_id = $1 RETURNING id",
            [post_id],
        )
        comment_ids = [r["id"] for r in comment_rows]
        await conn.execute_query(
            "/* posts.delete_comment_likes */ DELETE FROM comment_likes"
            " WHERE comment_id = ANY($1::bigint[])",
            [comment_ids],
        )
        for table in ("likes", "saves", "post_mentions"):
            await conn.execute_query(
                f"/* posts.delete_{table} */ DELETE FROM {table} WHERE post_id = $1", [post_id]
            )
        await _unlink_hashtags(conn, post_id=post_id, author_id=viewer_id, names=None)
        await conn.execute_query("/* posts.delete */ DELETE FROM posts WHERE id = $1", [post_id])
        await conn.execute_query(
            "/* posts.author_count */ UPDATE users SET post_count = post_count - 1 WHERE id = $1",
            [viewer_id],
        )
    await stores.posts.posts.invalidate(post_id)
    await stores.posts.comments.invalidate(*comment_ids)
    await counters.forget(stores.redis, "post", [post_id])
    await counters.forget(stores.redis, "comment", comment_ids)
    await stores.users.invalidate(viewer_id)
    await stores.media.invalidate(*media_ids)
    return media_ids


async def _toggle(sql_insert: str, sql_delete: str, keys: list[int], *, on: bool) -> bool:
    """Run the insert ($1, $2 = keys, $3 = a new id) or the delete ($1, $2 = keys); True when
    a row was actually added or removed."""
    conn = connections.get("default")
    if on:
        rows = await conn.execute_query_dict(sql_insert, [*keys, next_id()])
    else:
        rows = await conn.execute_query_dict(sql_delete, keys)
    return bool(rows)


async def set_like(*, user_id: int, post_id: int, liked: bool, redis: Redis) -> bool:
    """True when this call changed something (a new like, or a like taken back)."""
    changed = await _toggle(
        "/* posts.like */ INSERT INTO likes (id, post_id, user_id) SELECT $3, $1, $2"
        " WHERE EXISTS (SELECT 1 FROM posts WHERE id = $1)"
        " ON CONFLICT (post_id, user_id) DO NOTHING RETURNING id",
        "/* posts.unlike */ DELETE FROM likes WHERE post_id = $1 AND user_id = $2 RETURNING id",
        [post_id, user_id],
        on=liked,
    )
    if changed:
        await counters.bump(redis, "post", post_id, "like_count", 1 if liked else -1)
    return changed


async def set_save(*, user_id: int, post_id: int, saved: bool, redis: Redis) -> None:
    changed = await _toggle(
        "/* posts.save */ INSERT INTO saves (id, post_id, user_id) SELECT $3, $1, $2"
        " WHERE EXISTS (SELECT 1 FROM posts WHERE id = $1)"
        " ON CONFLICT (user_id, post_id) DO NOTHING RETURNING id",
        "/* posts.unsave */ DELETE FROM saves WHERE post_id = $1 AND user_id = $2 RETURNING id",
        [post_id, user_id],
        on=saved,
    )
    if changed:
        await counters.bump(redis, "post", post_id, "save_count", 1 if saved else -1)


async def set_comment_like(*, user_id: int, comment_id: int, liked: bool, redis: Redis) -> None:
    changed = await _toggle(
        "/* comments.like */ INSERT INTO comment_likes (id, comment_id, user_id)"
        " SELECT $3, $1, $2 WHERE EXISTS (SELECT 1 FROM comments WHERE id = $1)"
        " ON CONFLICT (comment_id, user_id) DO NOTHING RETURNING id",
        "/* comments.unlike */ DELETE FROM comment_likes WHERE comment_id = $1 AND user_id = $2"
        " RETURNING id",
        [comment_id, user_id],
        on=liked,
    )
    if changed:
        await counters.bump(redis, "comment", comment_id, "like_count", 1 if liked else -1)


async def add_comment(
    *, author_id: int, post_id: int, text: str, reply_to_id: int | None, stores: Stores
) -> int:
    text = text.strip()
    if not text:
        raise _refuse("Write something first.", "text")
    if len(text) > MAX_COMMENT:
        raise _refuse(f"Comments are at most {MAX_COMMENT} characters.", "text")
    conn = connections.get("default")
    parent_id = None
    if reply_to_id is not None:
        # Neither the comment replied to nor its thread's top comment may be from across a
        # block: to the replier, such a comment is not there.
        rows = await conn.execute_query_dict(
            "/* comments.parent */ SELECT c.post_id, c.reply_to_id FROM comments c"
            " LEFT JOIN comments top ON top.id = c.reply_to_id WHERE c.id = $1"
            f" AND {not_blocked_sql('$2', 'c.author_id')}"
            f" AND (top.id IS NULL OR {not_blocked_sql('$2', 'top.author_id')})",
            [reply_to_id, author_id],
        )
        if not rows or rows[0]["post_id"] != post_id:
            raise not_found("comment on this post", field="replyToId")
        parent_id = rows[0]["reply_to_id"] or reply_to_id  # replies stay one level deep
    comment_id = next_id()
    inserted = await conn.execute_query_dict(
        "/* comments.insert */ INSERT INTO comments (id, post_id, author_id, reply_to_id, text,"
        " like_count, reply_count, created_at) SELECT $1, $2, $3, $4, $5, 0, 0, now()"
        " WHERE EXISTS (SELECT 1 FROM posts WHERE id = $2) RETURNING id",
        [comment_id, post_id, author_id, parent_id, text],
    )
    if not inserted:
        raise not_found("post", field="postId")
    await counters.bump(stores.redis, "post", post_id, "comment_count", 1)
    if parent_id is not None:
        await counters.bump(stores.redis, "comment", parent_id, "reply_count", 1)
    return comment_id


async def delete_comment(*, comment_id: int, viewer_id: int, stores: Stores) -> None:
    """Its author or the post's author may delete a comment; a top-level comment takes its
    replies with it."""
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "/* comments.for_delete */ SELECT c.id, c.post_id, c.author_id, c.reply_to_id,"
            " p.author_id AS post_author FROM comments c JOIN posts p ON p.id = c.post_id"
            " WHERE c.id = $1 FOR UPDATE OF c",
            [comment_id],
        )
        if not rows:
            raise not_found("comment", field="commentId")
        row = rows[0]
        if viewer_id not in (row["author_id"], row["post_author"]):
            raise DomainError(
                ErrorCode.FORBIDDEN,
                "Only the comment's author or the post's author can delete it.",
                field="commentId",
            )
        deleted = await conn.execute_query_dict(
            "/* comments.delete */ DELETE FROM comments WHERE id = $1 OR reply_to_id = $1"
            " RETURNING id",
            [comment_id],
        )
        deleted_ids = [r["id"] for r in deleted]
        await conn.execute_query(
            "/* comments.delete_likes */ DELETE FROM comment_likes"
            " WHERE comment_id = ANY($1::bigint[])",
            [deleted_ids],
        )
    await counters.bump(stores.redis, "post", row["post_id"], "comment_count", -len(deleted_ids))
    if row["reply_to_id"] is not None:
        await counters.bump(stores.redis, "comment", row["reply_to_id"], "reply_count", -1)
    await counters.forget(stores.redis, "comment", deleted_ids)
    await stores.posts.comments.invalidate(*deleted_ids)
