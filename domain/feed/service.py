"""Fan-out on write, rebuild on return, and reading a page of the home feed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise import connections

from domain.feed.store import FEED_SIZE, FeedStore
from domain.posts.store import PostStore, PostView
from domain.users.store import UserStore

FOLLOWER_PAGE = 10_000
# Posts per author in the first pass of a rebuild; authors that fill it get a second look.
REBUILD_PER_AUTHOR = 40
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class FeedStores:
    feeds: FeedStore
    users: UserStore
    posts: PostStore
    max_followers: int  # FANOUT_MAX_FOLLOWERS: above it, posts are pulled at read time


async def fanout_post(*, post_id: int, stores: FeedStores) -> int:
    """Push a post into the feed of every active follower of its author (unless the author
    is too large, see FANOUT_MAX_FOLLOWERS). Idempotent; returns the feeds it went into."""
    rows = await connections.get("default").execute_query_dict(
        "/* feed.post_author */ SELECT author_id FROM posts WHERE id = $1", [post_id]
    )
    if not rows:
        return 0  # deleted before its fan-out ran
    author_id = int(rows[0]["author_id"])
    await stores.feeds.remember_author_post(author_id, post_id)
    author = await stores.users.get(author_id)
    if author is None:
        return 0
    if author.follower_count > stores.max_followers:
        # Too many followers to push to: their posts are pulled by readers instead.
        await stores.feeds.mark_pulled(author_id, pulled=True)
        return 0
    await stores.feeds.mark_pulled(author_id, pulled=False)
    # Walk the followers by keyset pages, fetching the next page from Postgres while Redis
    # takes the current one.
    total = 0
    page = await _follower_page(author_id, after=0)
    while page:
        follower_ids, last = page
        next_page = asyncio.ensure_future(_follower_page(author_id, after=last))
        try:
            total += await stores.feeds.insert(follower_ids, post_id)
        except BaseException:
            next_page.cancel()
            raise
        page = await next_page
    return total


async def _follower_page(author_id: int, *, after: int) -> tuple[list[int], int] | None:
    rows = await connections.get("default").execute_query_dict(
        "/* feed.followers_walk */ SELECT id, follower_id FROM follows"
        " WHERE followee_id = $1 AND status = 'ACTIVE' AND id > $2 ORDER BY id LIMIT $3",
        [author_id, after, FOLLOWER_PAGE],
    )
    if not rows:
        return None
    return [int(r["follower_id"]) for r in rows], int(rows[-1]["id"])


async def _newest_posts(
    authors: list[int], *, per_author: int, below: int, at_least: int, limit: int
) -> list[tuple[int, int]]:
    """(post id, author id), newest first: each author's newest `per_author` posts with
    at_least <= id < below, then the newest `limit` of those."""
    if not authors:
        return []
    rows = await connections.get("default").execute_query_dict(
        "/* feed.newest_by_authors */ SELECT p.id, p.author_id"
        " FROM unnest($1::bigint[]) AS a(id) CROSS JOIN LATERAL ("
        "   SELECT id, author_id FROM posts WHERE author_id = a.id AND id < $3 AND id >= $4"
        "   ORDER BY id DESC LIMIT $2) p"
        " ORDER BY p.id DESC LIMIT $5",
        [authors, per_author, below, at_least, limit],
    )
    return [(int(r["id"]), int(r["author_id"])) for r in rows]


async def rebuild(*, user_id: int, stores: FeedStores) -> None:
    """Make the feed of a returning user from Postgres: the newest FEED_SIZE posts of whom
    they follow (and their own), with the floor under which reads go to Postgres.

    Two passes keep it fast for someone who follows 1,000 accounts: each author's newest
    REBUILD_PER_AUTHOR posts first; then, only for the authors who filled that share, their
    newest FEED_SIZE. Together they hold the true newest FEED_SIZE posts.
    """
    authors = sorted(await stores.users.following_ids(user_id) | {user_id})
    first = await _newest_posts(
        authors, per_author=REBUILD_PER_AUTHOR, below=_MAX_ID, at_least=0, limit=FEED_SIZE * 4
    )
    ids = {post_id for post_id, _ in first}
    per_author: dict[int, int] = {}
    for _, author in first:
        per_author[author] = per_author.get(author, 0) + 1
    saturated = sorted(a for a, n in per_author.items() if n >= REBUILD_PER_AUTHOR)
    if saturated:
        more = await _newest_posts(
            saturated, per_author=FEED_SIZE, below=_MAX_ID, at_least=0, limit=FEED_SIZE
        )
        ids |= {post_id for post_id, _ in more}
    window = sorted(ids, reverse=True)
    floor = 0  # fewer than FEED_SIZE posts in all: the window is complete
    if len(window) >= FEED_SIZE:
        window = window[:FEED_SIZE]
        floor = window[-1]
    await stores.feeds.replace(user_id, window, floor=floor)


async def refresh(*, user_id: int, stores: FeedStores) -> bool:
    """After a graph change: rebuild the feed if the user has one (an active user)."""
    if not await stores.feeds.exists(user_id):
        return False
    await rebuild(user_id=user_id, stores=stores)
    return True


@dataclass(frozen=True)
class FeedPage:
    posts: list[PostView]
    has_next: bool


def _merge(sources: Iterable[tuple[list[int], bool]]) -> tuple[list[int], bool]:
    """Union of newest-first id lists, cut where a source that stopped at its limit ends (below
    that line it may have more that were not fetched). Returns (ids, was_cut)."""
    listed = list(sources)
    boundary = max((ids[-1] for ids, full in listed if full and ids), default=None)
    union = sorted({i for ids, _ in listed for i in ids}, reverse=True)
    if boundary is None:
        return union, False
    return [i for i in union if i >= boundary], True


async def read_page(
    *, viewer_id: int, first: int, after: int | None, stores: FeedStores
) -> FeedPage:
    """A page of the viewer's feed, newest first, below the post id `after`.

    Sources: the cached window (above its floor), the newest posts of very large accounts the
    viewer follows (pulled, not pushed), and past the window's floor, Postgres. Posts that were
    deleted, or whose author the viewer no longer follows, are dropped here, at once.
    """
    kept, pulled = await stores.feeds.open(viewer_id)
    if not kept:
        await rebuild(user_id=viewer_id, stores=stores)
    large = sorted(await stores.users.follows_among(viewer_id, pulled)) if pulled else []
    cursor = after or _MAX_ID
    collected: list[PostView] = []
    exhausted = False
    while len(collected) <= first and not exhausted:
        want = first + 1 - len(collected) + 4  # a little over, for posts dropped below
        cached, floor = await stores.feeds.window(viewer_id, below=cursor, count=want)
        sources = [(cached, len(cached) >= want)]
        if large:
            pulled_ids = await stores.feeds.author_posts(
                large, below=cursor, at_least=max(floor, 1), count=want
            )
            sources.append((pulled_ids, len(pulled_ids) >= want))
        candidates, cut = _merge(sources)
        if not cut and floor > 0:
            # The window is used up: continue below its floor from Postgres, same order.
            authors = sorted(await stores.users.following_ids(viewer_id) | {viewer_id})
            older = await _newest_posts(
                authors, per_author=want, below=min(cursor, floor), at_least=0, limit=want
            )
            older_ids = [post_id for post_id, _ in older]
            candidates += older_ids
            cut = len(older_ids) >= want
        exhausted = not cut
        if not candidates:
            break
        posts = await stores.posts.get_posts(candidates)
        followed = await stores.users.follows_among(
            viewer_id, {p.author_id for p in posts.values()}
        )
        followed.add(viewer_id)
        for post_id in candidates:
            post = posts.get(post_id)
            if post is not None and post.author_id in followed:
                collected.append(post)
        cursor = candidates[-1]
    return FeedPage(collected[:first], len(collected) > first)
