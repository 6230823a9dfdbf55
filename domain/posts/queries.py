"""Reading lists of posts and comments, as keyset pages, filtered for the viewer in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain import replicas
from domain.graph.visibility import not_blocked_sql, visible_authors_sql
from domain.ids import MAX_ID
from domain.pagination import MAX_SEARCH_RESULTS, Page


async def _page(sql: str, args: list[object], first: int) -> Page:
    rows = await replicas.rows(sql, args)
    return Page.from_rows([(row["pos"], row["item"]) for row in rows], first)


async def author_posts(
    *, author_id: int, first: int, after: int | None, kinds: Sequence[str] | None = None
) -> Page:
    """An author's posts, newest first (the caller has checked the viewer may see them)."""
    return await _page(
        "/* posts.by_author */ SELECT id AS pos, id AS item FROM posts"
        " WHERE author_id = $1 AND id < $2 AND kind = ANY($4::text[])"
        " ORDER BY id DESC LIMIT $3",
        [author_id, after or MAX_ID, first + 1, list(kinds or ["PHOTO", "CAROUSEL", "REEL"])],
        first,
    )


@dataclass(frozen=True)
class HashtagView:
    id: int
    name: str
    post_count: int


async def hashtag_by_name(name: str) -> HashtagView | None:
    rows = await replicas.rows(
        "/* hashtags.by_name */ SELECT id, name, post_count FROM hashtags WHERE name = $1",
        [name.strip().lstrip("#").lower()],
    )
    return HashtagView(**rows[0]) if rows else None


async def hashtags_by_ids(ids: Sequence[int]) -> dict[int, HashtagView]:
    rows = await replicas.rows(
        "/* hashtags.by_ids */ SELECT id, name, post_count FROM hashtags"
        " WHERE id = ANY($1::bigint[])",
        [list(ids)],
    )
    return {row["id"]: HashtagView(**row) for row in rows}


async def search_hashtags(
    *, prefix: str, first: int, after: int | None = None
) -> tuple[Page, dict[int, HashtagView]]:
    """Hashtags starting with `prefix`, an exact match first, then the most used; positions
    are ranks in the result (as for users: domain.graph.service.search_users)."""
    prefix = prefix.strip().lstrip("#").lower()
    start = 0 if after is None else after + 1
    if not prefix or start >= MAX_SEARCH_RESULTS:
        return Page([], False), {}
    take = min(first, MAX_SEARCH_RESULTS - start)
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await replicas.rows(
        "/* hashtags.search */ SELECT id, name, post_count FROM hashtags WHERE name LIKE $1"
        " AND post_count > 0 ORDER BY (name = $2) DESC, post_count DESC, name"
        " LIMIT $3 OFFSET $4",
        [escaped + "%", prefix, take + 1, start],
    )
    views = [HashtagView(**row) for row in rows]
    found = [(start + n, v.id) for n, v in enumerate(views)]
    page = Page(found[:take], len(found) > take and start + take < MAX_SEARCH_RESULTS)
    return page, {v.id: v for v in views}


async def hashtag_posts(
    *, hashtag_id: int, viewer_id: int | None, first: int, after: int | None
) -> Page:
    return await _page(
        "/* posts.by_hashtag */ SELECT ph.post_id AS pos, ph.post_id AS item"
        " FROM post_hashtags ph JOIN posts p ON p.id = ph.post_id"
        " JOIN users u ON u.id = p.author_id"
        " WHERE ph.hashtag_id = $1 AND ph.post_id < $2"
        f" AND {visible_authors_sql('p.author_id', 'u.is_private', '$4')}"
        " ORDER BY ph.post_id DESC LIMIT $3",
        [hashtag_id, after or MAX_ID, first + 1, viewer_id or 0],
        first,
    )


async def saved_posts(*, user_id: int, first: int, after: int | None) -> Page:
    return await _page(
        "/* posts.saved */ SELECT s.id AS pos, s.post_id AS item FROM saves s"
        " JOIN posts p ON p.id = s.post_id JOIN users u ON u.id = p.author_id"
        " WHERE s.user_id = $1 AND s.id < $2"
        f" AND {visible_authors_sql('p.author_id', 'u.is_private', '$1')}"
        " ORDER BY s.id DESC LIMIT $3",
        [user_id, after or MAX_ID, first + 1],
        first,
    )


async def comments(
    *,
    post_id: int,
    viewer_id: int | None,
    first: int,
    after: int | None,
    backward: bool = False,
) -> Page:
    """Top-level comments, newest first, without those of accounts blocked with the viewer.
    `backward` reads the `first` comments just newer than `after` (a `last`/`before` page), or
    the oldest ones without it."""
    newer = backward
    rows = await replicas.rows(
        "/* comments.top_level */ SELECT c.id AS pos, c.id AS item FROM comments c"
        f" WHERE c.post_id = $1 AND c.reply_to_id IS NULL AND c.id {'>' if newer else '<'} $2"
        f" AND {not_blocked_sql('$4', 'c.author_id')}"
        f" ORDER BY c.id {'ASC' if newer else 'DESC'} LIMIT $3",
        [post_id, after or (0 if newer else MAX_ID), first + 1, viewer_id or 0],
    )
    found = [(int(r["pos"]), int(r["item"])) for r in rows]
    if backward:
        return Page.from_rows_backward(found, first, before=after)
    return Page.from_rows(found, first)


async def replies(
    *, comment_id: int, post_id: int, viewer_id: int | None, first: int, after: int | None
) -> Page:
    """Replies to a comment, oldest first: they read as a conversation."""
    return await _page(
        "/* comments.replies */ SELECT c.id AS pos, c.id AS item FROM comments c"
        " WHERE c.post_id = $5 AND c.reply_to_id = $1 AND c.id > $2"
        f" AND {not_blocked_sql('$4', 'c.author_id')} ORDER BY c.id ASC LIMIT $3",
        [comment_id, after or 0, first + 1, viewer_id or 0, post_id],
        first,
    )


async def _members(sql: str, user_id: int, ids: Sequence[int]) -> set[int]:
    rows = await replicas.rows(sql, [user_id, list(ids)])
    return {row["item"] for row in rows}


async def liked_posts_among(user_id: int, post_ids: Sequence[int]) -> set[int]:
    return await _members(
        "/* likes.among */ SELECT post_id AS item FROM likes"
        " WHERE user_id = $1 AND post_id = ANY($2::bigint[])",
        user_id,
        post_ids,
    )


async def saved_posts_among(user_id: int, post_ids: Sequence[int]) -> set[int]:
    return await _members(
        "/* saves.among */ SELECT post_id AS item FROM saves"
        " WHERE user_id = $1 AND post_id = ANY($2::bigint[])",
        user_id,
        post_ids,
    )


async def liked_comments_among(user_id: int, comment_ids: Sequence[int]) -> set[int]:
    return await _members(
        "/* comment_likes.among */ SELECT comment_id AS item FROM comment_likes"
        " WHERE user_id = $1 AND comment_id = ANY($2::bigint[])",
        user_id,
        comment_ids,
    )
