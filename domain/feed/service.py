"""Fan-out on write, rebuild on return, and reading a page of the home feed."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from tortoise import connections

from domain import replicas
from domain.feed.store import FEED_SIZE, Entry, FeedStore, Position, RankedRead
from domain.ids import MAX_ID
from domain.media.store import MediaStore, MediaView
from domain.posts.store import PostStore, PostView
from domain.reads import read_alone
from domain.users.store import UserStore, UserView

FOLLOWER_PAGE = 10_000
# Followers per Lua call: Redis runs one call at a time, so a small chunk keeps other clients'
# commands from waiting long behind a fan-out (about 6 ms each).
FANOUT_CHUNK = 1_000
FANOUT_IN_FLIGHT = 2
# Posts per author in the first pass of a rebuild; authors that fill it get a second look.
REBUILD_PER_AUTHOR = 40


@dataclass(frozen=True)
class FeedStores:
    feeds: FeedStore
    users: UserStore
    posts: PostStore
    media: MediaStore
    max_followers: int  # FANOUT_MAX_FOLLOWERS: above it, posts are pulled at read time


@dataclass
class Loaded:
    """What a page's reads brought beside its posts."""

    authors: dict[int, UserView] = field(default_factory=dict)
    media: dict[int, MediaView] = field(default_factory=dict)
    with_media: bool = True  # whether to read the media at all


# A fan-out that shows no progress for this long is taken to have died with its worker.
FANOUT_STALLED_AFTER_SECONDS = 15
FANOUTS_KEPT_SECONDS = 86_400  # done outbox rows are deleted after a day


@dataclass(frozen=True)
class FanoutTarget:
    post_id: int
    author_id: int
    after_follow_id: int  # resume past this follow id


async def fanout_target(post_id: int) -> FanoutTarget | None:
    """Where the fan-out of this post stands; None when there is nothing (more) to do: done,
    or the post was deleted before it ran."""
    db = connections.get("default")
    rows = await db.execute_query_dict(
        "/* feed.fanout_outbox */ SELECT f.author_id, f.after_follow_id, f.done_at,"
        " p.id IS NOT NULL AS present FROM fanouts f LEFT JOIN posts p ON p.id = f.post_id"
        " WHERE f.post_id = $1",
        [post_id],
    )
    if not rows:  # a post made before the outbox existed
        rows = await db.execute_query_dict(
            "/* feed.fanout_legacy */ INSERT INTO fanouts (post_id, author_id, after_follow_id,"
            " attempts, updated_at) SELECT id, author_id, 0, 0, now() FROM posts WHERE id = $1"
            " ON CONFLICT (post_id) DO NOTHING"
            " RETURNING author_id, after_follow_id, NULL AS done_at, true AS present",
            [post_id],
        )
        if not rows:
            return None
    row = rows[0]
    if row["done_at"] is not None:
        return None
    if not row["present"]:
        await _fanout_done(post_id)
        return None
    return FanoutTarget(post_id, int(row["author_id"]), int(row["after_follow_id"]))


async def fanout_post(*, target: FanoutTarget, stores: FeedStores) -> int:
    """Push a post into the feed of every active follower of its author (unless the author
    is too large, see FANOUT_MAX_FOLLOWERS), from where an earlier try stopped; records its
    progress after every page of followers, and that it is done. Idempotent (a feed holds a
    post once however often it is pushed); returns the feeds it went into."""
    post_id, author_id = target.post_id, target.author_id
    await stores.feeds.remember_author_post(author_id, post_id)
    author = await stores.users.get(author_id)
    if author is None:
        await _fanout_done(post_id)
        return 0
    if author.follower_count > stores.max_followers:
        # Too many followers to push to: their posts are pulled by readers instead.
        await stores.feeds.mark_pulled(author_id, pulled=True)
        await _fanout_done(post_id)
        return 0
    await stores.feeds.mark_pulled(author_id, pulled=False)
    # Walk the followers by keyset pages, fetching the next page from Postgres while Redis
    # takes the current one in chunks. Two chunks are in flight, so Redis always has the next
    # one queued while Python prepares the one after. A page's progress is recorded once all
    # its chunks are in.
    total = 0
    running: deque[tuple[asyncio.Future[int], list[int]]] = deque()
    pages: deque[list[int]] = deque()  # [last follow id, chunks not yet in], in order
    next_page: asyncio.Future[tuple[list[int], int] | None] | None = None

    async def settle_one() -> None:
        nonlocal total
        future, page = running.popleft()
        total += await future
        page[1] -= 1
        while pages and pages[0][1] == 0:
            await _fanout_progress(post_id, pages.popleft()[0])

    try:
        page = await _follower_page(author_id, after=target.after_follow_id)
        while page:
            follower_ids, last = page
            next_page = asyncio.ensure_future(_follower_page(author_id, after=last))
            # a chunk's feeds are split between the Redis masters: each takes FANOUT_CHUNK
            size = FANOUT_CHUNK * stores.feeds.masters
            chunks = [follower_ids[i : i + size] for i in range(0, len(follower_ids), size)]
            progress = [last, len(chunks)]
            pages.append(progress)
            for chunk in chunks:
                if len(running) >= FANOUT_IN_FLIGHT:
                    await settle_one()
                insert = asyncio.ensure_future(stores.feeds.insert(chunk, post_id, author_id))
                running.append((insert, progress))
            page = await next_page
        while running:
            await settle_one()
    except BaseException:
        for future in (*(f for f, _ in running), next_page):
            if future is not None:
                future.cancel()
        raise
    await _fanout_done(post_id)
    return total


async def _fanout_progress(post_id: int, after_follow_id: int) -> None:
    await connections.get("default").execute_query(
        "/* feed.fanout_progress */ UPDATE fanouts SET after_follow_id = $2, updated_at = now()"
        " WHERE post_id = $1 AND after_follow_id < $2",
        [post_id, after_follow_id],
    )


async def _fanout_done(post_id: int) -> None:
    await connections.get("default").execute_query(
        "/* feed.fanout_done */ UPDATE fanouts SET done_at = now(), updated_at = now()"
        " WHERE post_id = $1",
        [post_id],
    )


async def stalled_fanouts(*, limit: int = 100) -> list[tuple[int, int]]:
    """(post id, attempt) of fan-outs that stopped showing progress (a worker that died, a job
    never enqueued), each counted as a new attempt; and done outbox rows a day old removed."""
    db = connections.get("default")
    await db.execute_query(
        "/* feed.fanouts_prune */ DELETE FROM fanouts"
        " WHERE done_at < now() - make_interval(secs => $1)",
        [FANOUTS_KEPT_SECONDS],
    )
    rows = await db.execute_query_dict(
        "/* feed.fanouts_stalled */ UPDATE fanouts SET attempts = attempts + 1, updated_at = now()"
        " WHERE post_id IN (SELECT post_id FROM fanouts WHERE done_at IS NULL"
        "   AND updated_at < now() - make_interval(secs => $1)"
        "   ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING post_id, attempts",
        [FANOUT_STALLED_AFTER_SECONDS, limit],
    )
    return [(int(row["post_id"]), int(row["attempts"])) for row in rows]


async def _follower_page(author_id: int, *, after: int) -> tuple[list[int], int] | None:
    """The next FOLLOWER_PAGE followers by follow id, and the last follow id (one row with an
    array, which asyncpg decodes in C)."""
    rows = await connections.get("default").execute_query_dict(
        "/* feed.followers_walk */ SELECT array_agg(follower_id ORDER BY id) AS ids,"
        " max(id) AS last FROM (SELECT id, follower_id FROM follows"
        " WHERE followee_id = $1 AND status = 'ACTIVE' AND id > $2 ORDER BY id LIMIT $3) f",
        [author_id, after, FOLLOWER_PAGE],
    )
    if not rows or rows[0]["ids"] is None:
        return None
    return list(rows[0]["ids"]), int(rows[0]["last"])


async def _newest_posts(
    authors: list[int], *, per_author: int, below: int, at_least: int, limit: int
) -> list[Entry]:
    """(post id, author id), newest first: each author's newest `per_author` posts with
    at_least <= id < below, then the newest `limit` of those."""
    if not authors:
        return []
    rows = await replicas.rows(
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
        authors, per_author=REBUILD_PER_AUTHOR, below=MAX_ID, at_least=0, limit=FEED_SIZE * 4
    )
    entries = set(first)
    per_author: dict[int, int] = {}
    for _, author in first:
        per_author[author] = per_author.get(author, 0) + 1
    saturated = sorted(a for a, n in per_author.items() if n >= REBUILD_PER_AUTHOR)
    if saturated:
        entries |= set(
            await _newest_posts(
                saturated, per_author=FEED_SIZE, below=MAX_ID, at_least=0, limit=FEED_SIZE
            )
        )
    window = sorted(entries, reverse=True)
    floor = 0  # fewer than FEED_SIZE posts in all: the window is complete
    if len(window) >= FEED_SIZE:
        window = window[:FEED_SIZE]
        floor = window[-1][0]
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
    positions: list[Position]  # one per post, for its cursor
    authors: dict[int, UserView]  # the authors of `posts`, read in the same round trips
    media: dict[int, MediaView]  # their media, as far as read in the same round trips
    has_next: bool
    # A RANKED first page found no snapshot, or an old one: the caller asks for a ranking.
    wants_ranking: bool = False


def _merge(sources: Iterable[tuple[list[Entry], bool]]) -> tuple[list[Entry], bool]:
    """Union of newest-first entry lists, cut where a source that stopped at its limit ends
    (below that line it may have more that were not fetched). Returns (entries, was_cut)."""
    listed = list(sources)
    boundary = max((entries[-1] for entries, full in listed if full and entries), default=None)
    union = sorted({e for entries, _ in listed for e in entries}, reverse=True)
    if boundary is None:
        return union, False
    return [e for e in union if e >= boundary], True


async def read_page(
    *,
    viewer_id: int,
    first: int,
    after: Position | None,
    stores: FeedStores,
    ranked: bool = False,
    with_media: bool = True,
) -> FeedPage:
    """A page of the viewer's feed below `after`: newest first, or with `ranked`, by the
    ranking job's scores where a snapshot of them exists (see domain/ranking) and newest first
    below it. `with_media=False` leaves out the posts' media (the ranking job has no use for
    them).

    Sources: the cached window (above its floor), the newest posts of very large accounts the
    viewer follows (pulled, not pushed), and past the window's floor, Postgres. Posts that were
    deleted, or whose author the viewer no longer follows, are dropped here, at once.

    A warm page costs two Redis round trips: the window with the check of which pulled accounts
    the viewer follows (and the ranking snapshot), then the posts, their counters, the follow
    check of their authors, the authors themselves and the posts' media (plus one for the
    pulled accounts' posts, if the viewer follows any).
    """
    pulled = sorted(await stores.feeds.pulled_authors())
    from_rank = ranked and (after is None or after.score is not None)
    cursor = after.post_id if after is not None and after.score is None else MAX_ID
    want = first + 1 + 4  # a little over, for posts dropped below
    batch = stores.feeds.reads.batch()
    opened = stores.feeds.open_window(batch, viewer_id, below=cursor, count=want)
    large_followed = stores.users.queue_follows_among(batch, viewer_id, pulled)
    snapshot = stores.feeds.ranked(batch, viewer_id, after=after, count=want) if from_rank else None
    await batch.execute()
    kept, cached, floor = opened()
    large = sorted(await large_followed())
    if not kept:
        await rebuild(user_id=viewer_id, stores=stores)
        cached, floor = await _window(stores, viewer_id, below=cursor, count=want)
    loaded = Loaded(with_media=with_media)
    head: list[tuple[PostView, Position]] = []
    wants_ranking = False
    if snapshot is not None:
        rank = snapshot()
        if after is None and rank.stale:
            wants_ranking = await stores.feeds.claim_ranking(viewer_id)
        if rank.oldest:
            head, used_up = await _ranked(stores, viewer_id, rank, first=first, loaded=loaded)
            if len(head) > first or not used_up:
                return _page(head, loaded, first, wants_ranking)
            # The snapshot is used up: go on below its oldest post, newest first.
            cursor = rank.oldest
            want = first + 1 - len(head) + 4
            cached, floor = await _window(stores, viewer_id, below=cursor, count=want)

    collected = head
    exhausted = False
    while True:
        sources = [(cached, len(cached) >= want)]
        if large:
            from_large = await stores.feeds.author_posts(
                large, below=cursor, at_least=max(floor, 1), count=want
            )
            sources.append((from_large, len(from_large) >= want))
        candidates, cut = _merge(sources)
        if not cut and floor > 0:
            # The window is used up: continue below its floor from Postgres, same order.
            followed_now = sorted(await stores.users.following_ids(viewer_id) | {viewer_id})
            older = await _newest_posts(
                followed_now, per_author=want, below=min(cursor, floor), at_least=0, limit=want
            )
            candidates += older
            cut = len(older) >= want
        exhausted = not cut
        if not candidates:
            break
        visible = await _visible(stores, viewer_id, candidates, loaded)
        collected += [(visible[i], Position(i)) for i, _ in candidates if i in visible]
        cursor = candidates[-1][0]
        if len(collected) > first or exhausted:
            break
        want = first + 1 - len(collected) + 4
        cached, floor = await _window(stores, viewer_id, below=cursor, count=want)
    return _page(collected, loaded, first, wants_ranking)


def _page(
    collected: list[tuple[PostView, Position]],
    loaded: Loaded,
    first: int,
    wants_ranking: bool,
) -> FeedPage:
    page = collected[:first]
    return FeedPage(
        posts=[post for post, _ in page],
        positions=[position for _, position in page],
        authors={post.author_id: loaded.authors[post.author_id] for post, _ in page},
        media={m: loaded.media[m] for post, _ in page for m in post.media_ids if m in loaded.media},
        has_next=len(collected) > first,
        wants_ranking=wants_ranking,
    )


async def _ranked(
    stores: FeedStores,
    viewer_id: int,
    rank: RankedRead,
    *,
    first: int,
    loaded: Loaded,
) -> tuple[list[tuple[PostView, Position]], bool]:
    """The visible posts of the ranking snapshot from where `rank` was read, best first: more
    than `first` of them, or all that are left. Says whether the snapshot was used up."""
    collected: list[tuple[PostView, Position]] = []
    while True:
        entries = rank.entries
        if entries:
            visible = await _visible(stores, viewer_id, [e for e, _ in entries], loaded)
            collected += [
                (visible[post_id], Position(post_id, score))
                for (post_id, _), score in entries
                if post_id in visible
            ]
        if len(collected) > first:
            return collected, False
        if not rank.more or not entries:
            return collected, True
        (post_id, _), score = entries[-1]
        after = Position(post_id, score)
        rank = await read_alone(
            stores.feeds.reads,
            partial(stores.feeds.ranked, user_id=viewer_id, after=after, count=first + 5),
        )


async def _visible(
    stores: FeedStores, viewer_id: int, entries: list[Entry], loaded: Loaded
) -> dict[int, PostView]:
    """The posts of these entries that exist and whose author the viewer follows (or is), read
    with their counters, the follow check, their authors and their media (into `loaded`) in one
    round trip. Which media to read is known from the posts as this process last read them (a
    post's media never change); those of posts it has not read lately, and those Redis does not
    hold, are left to the caller (most of these posts may not make the page). Media that were
    READY and attached when last read are not read again (see MediaStore.settled)."""
    ids = [post_id for post_id, _ in entries]
    author_ids = {author for _, author in entries}
    seen = (stores.posts.posts.last_read(post_id) for post_id in ids) if loaded.with_media else ()
    media_ids = {m for view in seen if view is not None for m in view.media_ids}
    batch = stores.feeds.reads.batch()
    posts_read = stores.posts.queue_posts(batch, ids)
    follows_read = stores.users.queue_follows_among(batch, viewer_id, author_ids - {viewer_id})
    authors_read = stores.users.rows.queue_get(batch, sorted(author_ids - loaded.authors.keys()))
    settled, unsettled = stores.media.settled(media_ids - loaded.media.keys())
    loaded.media.update(settled)
    media_read = stores.media.queue_get(batch, sorted(unsettled), cached_only=True)
    await batch.execute()
    views = await posts_read()
    following = await follows_read() | {viewer_id}
    loaded.authors.update(await authors_read())
    loaded.media.update(await media_read())
    return {
        post_id: post
        for post_id, post in views.items()
        if post.author_id in following and post.author_id in loaded.authors
    }


async def _window(
    stores: FeedStores, user_id: int, *, below: int, count: int
) -> tuple[list[Entry], int]:
    window = partial(stores.feeds.window, user_id=user_id, below=below, count=count)
    return await read_alone(stores.feeds.reads, window)
