"""Stories: 24 hours each, then only the owner's archive and their highlights.

Who may see a story (`may_see`): its author always; anyone else only while it is live (or while
it is in a highlight), never across a block, for a private author only an approved follower,
and for a CLOSE_FRIENDS story only someone on the author's list at the moment of looking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode, not_found
from domain.graph.service import block_between
from domain.ids import MAX_ID, next_id
from domain.pagination import Page
from domain.posts import captions
from domain.ranking.served import ServedModel
from domain.ratelimit import RateLimited
from domain.stories.models import Audience
from domain.stories.store import StoryStore, StoryView, now_ms
from domain.users.store import UserStore

LIFETIME = timedelta(hours=24)
VIEWERS_FOR = timedelta(hours=48)
MAX_LIVE_PER_DAY = 100
MAX_VIDEO_MS = 60_000
MAX_TITLE = 40
MAX_HIGHLIGHT_STORIES = 100
MAX_HIGHLIGHTS = 100  # per account
MAX_TRAY = 200  # reels in a tray: the first 200 in its order (what a query can cost)
MODEL_AFFINITY = 10.0  # all of a viewer's engagements on one author weigh as 10 stories seen


def _refuse(message: str, field: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field=field)


async def create_story(
    *,
    author_id: int,
    media_id: int,
    audience: Audience,
    caption: str,
    stories: StoryStore,
    at: datetime | None = None,
) -> StoryView:
    """A READY photo, or a video up to 60 s, of the author's; at most 100 in any 24 hours."""
    at = at or datetime.now(UTC)
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        "/* stories.media */ SELECT kind, status, duration_ms FROM media"
        " WHERE id = $1 AND owner_id = $2",
        [media_id, author_id],
    )
    if not rows:
        raise not_found("media of yours", field="mediaId")
    media = rows[0]
    if media["status"] != "READY":
        raise _refuse(f"The media is {media['status']}, not READY.", "mediaId")
    if media["kind"] == "VIDEO" and int(media["duration_ms"] or 0) > MAX_VIDEO_MS:
        raise _refuse("A video story is at most 60 seconds.", "mediaId")
    parsed = captions.parse(caption)
    async with in_transaction() as tx:
        # One author at a time, so that two stories at once cannot both be the 100th.
        await tx.execute_query(
            "/* stories.lock_author */ SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [f"stories:{author_id}"],
        )
        recent = await tx.execute_query_dict(
            "/* stories.recent */ SELECT count(*) AS n, min(created_at) AS oldest FROM stories"
            " WHERE author_id = $1 AND created_at > $2",
            [author_id, at - LIFETIME],
        )
        if int(recent[0]["n"]) >= MAX_LIVE_PER_DAY:
            wait = recent[0]["oldest"] + LIFETIME - at
            raise RateLimited(
                max(1, int(wait.total_seconds())),
                f"At most {MAX_LIVE_PER_DAY} stories in 24 hours; the oldest leaves the count"
                " when it expires.",
            )
        mentions = await tx.execute_query_dict(
            "/* stories.mentions */ SELECT id FROM users WHERE username = ANY($1::text[])"
            " AND id <> $2 AND status = 'ACTIVE'",
            [parsed.mentions, author_id],
        )
        story_id = next_id()
        await tx.execute_query(
            "/* stories.insert */ INSERT INTO stories (id, author_id, media_id, audience, caption,"
            " mention_ids, view_count, created_at, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb, 0, $7, $8)",
            [
                story_id,
                author_id,
                media_id,
                audience.value,
                parsed.text,
                json.dumps([int(m["id"]) for m in mentions]),
                at,
                at + LIFETIME,
            ],
        )
    story = await stories.rows.get(story_id)
    assert story is not None
    return story


@dataclass(frozen=True)
class Facts:
    """What the rule needs to know of viewer and author, loaded by the caller."""

    viewer_id: int | None
    sees_posts: bool  # the post rule: no block either way, and a private author followed
    close_friend: bool  # on the author's close friends list now


def may_see(story: StoryView, facts: Facts, *, at_ms: int, in_highlight: bool = False) -> bool:
    if facts.viewer_id == story.author_id:
        return True
    if not in_highlight and not story.live_at(at_ms):
        return False
    if not facts.sees_posts:
        return False
    return story.audience != Audience.CLOSE_FRIENDS or facts.close_friend


async def close_friends_among(*, viewer_id: int, owner_ids: list[int]) -> set[int]:
    """Which of these owners have the viewer on their close friends list."""
    if not owner_ids:
        return set()
    rows = await connections.get("default").execute_query_dict(
        "/* stories.close_friend_of */ SELECT owner_id FROM close_friends"
        " WHERE friend_id = $1 AND owner_id = ANY($2::bigint[])",
        [viewer_id, owner_ids],
    )
    return {int(r["owner_id"]) for r in rows}


@dataclass(frozen=True)
class Reel:
    """One author's live stories as the viewer may see them, oldest first."""

    author_id: int
    stories: list[StoryView]
    has_unseen: bool
    latest_at: datetime


async def tray(
    *,
    viewer_id: int,
    users: UserStore,
    stories: StoryStore,
    at_ms: int | None = None,
    served: ServedModel | None = None,
) -> list[Reel]:
    """The viewer's own reel first, then the followed accounts with live stories they may
    see: unseen before seen, then by the viewer's affinity for the author, then newest. The
    affinity is what the viewer did with the author's stories (seen, replied: in Redis) plus,
    where the served ranking model knows the viewer, MODEL_AFFINITY times the share of their
    engagements that went to the author's posts."""
    at_ms = at_ms or now_ms()
    following = await users.following_ids(viewer_id)
    live = await stories.live_ids([viewer_id, *following], at_ms=at_ms)
    # an account gone (deactivated, suspended, deleted) has no reel, whoever follows it
    active = await users.get_many(list(live))
    live = {author: ids for author, ids in live.items() if author in active}
    views = await stories.rows.get_many([i for ids in live.values() for i in ids])
    seen = await stories.seen(viewer_id, at_ms=at_ms)
    others = [a for a in live if a != viewer_id]
    close_needed = [
        a
        for a in others
        if any((v := views.get(i)) and v.audience == Audience.CLOSE_FRIENDS for i in live[a])
    ]
    close = await close_friends_among(viewer_id=viewer_id, owner_ids=close_needed)
    reels: list[Reel] = []
    for author, ids in live.items():
        # Whom the viewer follows (approved) is never across a block: a block ends follows
        # both ways and refuses new ones, so no query for blocks here.
        facts = Facts(viewer_id, True, author in close)
        shown = [
            v for i in ids if (v := views.get(i)) is not None and may_see(v, facts, at_ms=at_ms)
        ]
        if shown:
            unseen = any(s.id not in seen for s in shown) if author != viewer_id else False
            reels.append(Reel(author, shown, unseen, max(s.created_at for s in shown)))
    affinity = await stories.affinity(viewer_id, [r.author_id for r in reels])
    model = await served.current(wait=False) if served is not None and len(reels) > 1 else None
    if model is not None:
        learned = model.author_affinity(viewer_id, [r.author_id for r in reels])
        for author, share in learned.items():
            affinity[author] = affinity.get(author, 0.0) + MODEL_AFFINITY * share
    reels.sort(
        key=lambda r: (
            r.author_id != viewer_id,
            not r.has_unseen,
            -affinity.get(r.author_id, 0.0),
            -r.latest_at.timestamp(),
        )
    )
    return reels[:MAX_TRAY]


async def mark_seen(
    *, viewer_id: int, visible: list[StoryView], stories: StoryStore, at_ms: int
) -> int:
    """Record that the viewer saw these (visible) stories; seeing one twice changes nothing.
    Returns how many were new."""
    others = [s for s in visible if s.author_id != viewer_id]
    if not others:
        return 0
    async with in_transaction() as tx:
        inserted = await tx.execute_query_dict(
            "/* stories.seen */ INSERT INTO story_views (id, story_id, viewer_id, created_at)"
            " SELECT v.id, v.story_id, $3, now()"
            " FROM unnest($1::bigint[], $2::bigint[]) AS v(id, story_id)"
            " ON CONFLICT (story_id, viewer_id) DO NOTHING RETURNING story_id",
            [[next_id() for _ in others], [s.id for s in others], viewer_id],
        )
        new = [int(r["story_id"]) for r in inserted]
        if new:
            await tx.execute_query(
                "/* stories.view_count */ UPDATE stories SET view_count = view_count + 1"
                " WHERE id = ANY($1::bigint[])",
                [new],
            )
    await stories.rows.invalidate(*new)
    await stories.mark_seen(viewer_id, others, at_ms=at_ms)
    for story in others:
        if story.id in new:
            await stories.bump_affinity(viewer_id, story.author_id, 1.0)
    return len(new)


async def seen_by(*, viewer_id: int, story_ids: list[int]) -> set[int]:
    if not story_ids:
        return set()
    rows = await connections.get("default").execute_query_dict(
        "/* stories.seen_by */ SELECT story_id FROM story_views WHERE viewer_id = $1"
        " AND story_id = ANY($2::bigint[])",
        [viewer_id, story_ids],
    )
    return {int(r["story_id"]) for r in rows}


async def viewers(*, story: StoryView, first: int, after: int | None, at: datetime) -> Page:
    """Who saw it, newest first: for 48 hours after it was posted (the caller is its owner)."""
    if at - story.created_at > VIEWERS_FOR:
        return Page([], False)
    rows = await connections.get("default").execute_query_dict(
        "/* stories.viewers */ SELECT id AS pos, viewer_id AS item FROM story_views"
        " WHERE story_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        [story.id, after or MAX_ID, first + 1],
    )
    return Page.from_rows([(int(r["pos"]), int(r["item"])) for r in rows], first)


async def archive(*, owner_id: int, first: int, after: int | None) -> Page:
    rows = await connections.get("default").execute_query_dict(
        "/* stories.archive */ SELECT id AS pos, id AS item FROM stories WHERE author_id = $1"
        " AND id < $2 ORDER BY id DESC LIMIT $3",
        [owner_id, after or MAX_ID, first + 1],
    )
    return Page.from_rows([(int(r["pos"]), int(r["item"])) for r in rows], first)


# Close friends.


async def set_close_friend(*, owner_id: int, friend_id: int, on: bool, stories: StoryStore) -> None:
    """Add or take off someone; nobody is told either way. Idempotent. The friend's tray shows
    or hides the owner's close friends' stories from their very next read."""
    if owner_id == friend_id:
        raise _refuse("You are always in your own close friends.", "userId")
    conn = connections.get("default")
    if on:
        if any(await block_between(owner_id, friend_id)):
            raise not_found("user", field="userId")
        await conn.execute_query(
            "/* stories.add_close_friend */ INSERT INTO close_friends (id, owner_id, friend_id,"
            " created_at) VALUES ($1, $2, $3, now()) ON CONFLICT DO NOTHING",
            [next_id(), owner_id, friend_id],
        )
    else:
        await conn.execute_query(
            "/* stories.remove_close_friend */ DELETE FROM close_friends"
            " WHERE owner_id = $1 AND friend_id = $2",
            [owner_id, friend_id],
        )
    await stories.touch(friend_id)


async def close_friends(*, owner_id: int, first: int, after: int | None) -> Page:
    rows = await connections.get("default").execute_query_dict(
        "/* stories.close_friends */ SELECT id AS pos, friend_id AS item FROM close_friends"
        " WHERE owner_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        [owner_id, after or MAX_ID, first + 1],
    )
    return Page.from_rows([(int(r["pos"]), int(r["item"])) for r in rows], first)


# Highlights.


@dataclass(frozen=True)
class HighlightView:
    id: int
    owner_id: int
    title: str
    cover_media_id: int | None
    story_ids: list[int]
    created_at: datetime


async def _own_stories(owner_id: int, story_ids: list[int]) -> None:
    if not story_ids:
        raise _refuse("Name at least one story.", "storyIds")
    if len(story_ids) > MAX_HIGHLIGHT_STORIES:
        raise _refuse(f"A highlight holds at most {MAX_HIGHLIGHT_STORIES} stories.", "storyIds")
    rows = await connections.get("default").execute_query_dict(
        "/* stories.own */ SELECT count(*) AS n FROM stories WHERE author_id = $1"
        " AND id = ANY($2::bigint[])",
        [owner_id, story_ids],
    )
    if int(rows[0]["n"]) != len(set(story_ids)):
        raise not_found("story of yours", field="storyIds")


async def create_highlight(
    *, owner_id: int, title: str, story_ids: list[int], cover_media_id: int | None
) -> int:
    title = title.strip()
    if not 1 <= len(title) <= MAX_TITLE:
        raise _refuse(f"A title is 1 to {MAX_TITLE} characters.", "title")
    await _own_stories(owner_id, story_ids)
    conn = connections.get("default")
    count = await conn.execute_query_dict(
        "/* stories.highlight_count */ SELECT count(*) AS n FROM highlights WHERE owner_id = $1",
        [owner_id],
    )
    if int(count[0]["n"]) >= MAX_HIGHLIGHTS:
        raise _refuse(f"An account has at most {MAX_HIGHLIGHTS} highlights.", "title")
    if cover_media_id is not None:
        cover = await conn.execute_query_dict(
            "/* stories.cover */ SELECT 1 FROM media WHERE id = $1 AND owner_id = $2"
            " AND status = 'READY' AND kind = 'IMAGE'",
            [cover_media_id, owner_id],
        )
        if not cover:
            raise _refuse("The cover must be a READY photo of yours.", "coverMediaId")
    highlight_id = next_id()
    async with in_transaction() as tx:
        await tx.execute_query(
            "/* stories.highlight */ INSERT INTO highlights (id, owner_id, title, cover_media_id,"
            " created_at) VALUES ($1, $2, $3, $4, now())",
            [highlight_id, owner_id, title, cover_media_id],
        )
        await _link(tx, highlight_id, story_ids)
    return highlight_id


async def _link(tx: BaseDBAsyncClient, highlight_id: int, story_ids: list[int]) -> None:
    unique = list(dict.fromkeys(story_ids))
    await tx.execute_query(
        "/* stories.highlight_link */ INSERT INTO highlight_stories (id, highlight_id, story_id)"
        " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING",
        [[next_id() for _ in unique], [highlight_id] * len(unique), unique],
    )


async def _own_highlight(owner_id: int, highlight_id: int) -> None:
    rows = await connections.get("default").execute_query_dict(
        "/* stories.own_highlight */ SELECT 1 FROM highlights WHERE id = $1 AND owner_id = $2",
        [highlight_id, owner_id],
    )
    if not rows:
        raise not_found("highlight of yours", field="highlightId")


async def change_highlight(
    *, owner_id: int, highlight_id: int, add: list[int], remove: list[int]
) -> None:
    await _own_highlight(owner_id, highlight_id)
    if add:
        await _own_stories(owner_id, add)
    async with in_transaction() as tx:
        if add:
            await _link(tx, highlight_id, add)
        if remove:
            await tx.execute_query(
                "/* stories.highlight_unlink */ DELETE FROM highlight_stories"
                " WHERE highlight_id = $1 AND story_id = ANY($2::bigint[])",
                [highlight_id, remove],
            )


async def delete_highlight(*, owner_id: int, highlight_id: int) -> None:
    await _own_highlight(owner_id, highlight_id)
    async with in_transaction() as tx:
        await tx.execute_query(
            "/* stories.highlight_delete_links */ DELETE FROM highlight_stories"
            " WHERE highlight_id = $1",
            [highlight_id],
        )
        await tx.execute_query(
            "/* stories.highlight_delete */ DELETE FROM highlights WHERE id = $1", [highlight_id]
        )


async def highlights_of(owner_ids: list[int]) -> dict[int, list[HighlightView]]:
    rows = await connections.get("default").execute_query_dict(
        "/* stories.highlights */ SELECT h.id, h.owner_id, h.title, h.cover_media_id,"
        " h.created_at, coalesce(array_agg(hs.story_id ORDER BY hs.story_id)"
        " FILTER (WHERE hs.story_id IS NOT NULL), '{}') AS story_ids"
        " FROM highlights h LEFT JOIN highlight_stories hs ON hs.highlight_id = h.id"
        " WHERE h.owner_id = ANY($1::bigint[]) GROUP BY h.id ORDER BY h.id DESC",
        [owner_ids],
    )
    found: dict[int, list[HighlightView]] = {}
    for r in rows:
        view = HighlightView(
            int(r["id"]),
            int(r["owner_id"]),
            r["title"],
            r["cover_media_id"],
            [int(i) for i in r["story_ids"]],
            r["created_at"],
        )
        found.setdefault(view.owner_id, []).append(view)
    return found


async def highlight_by_id(highlight_id: int) -> HighlightView | None:
    rows = await connections.get("default").execute_query_dict(
        "/* stories.highlight_owner */ SELECT owner_id FROM highlights WHERE id = $1",
        [highlight_id],
    )
    if not rows:
        return None
    found = await highlights_of([int(rows[0]["owner_id"])])
    return next((h for h in found.get(int(rows[0]["owner_id"]), []) if h.id == highlight_id), None)


async def in_a_highlight(story_ids: list[int]) -> set[int]:
    if not story_ids:
        return set()
    rows = await connections.get("default").execute_query_dict(
        "/* stories.in_highlight */ SELECT DISTINCT story_id FROM highlight_stories"
        " WHERE story_id = ANY($1::bigint[])",
        [story_ids],
    )
    return {int(r["story_id"]) for r in rows}
