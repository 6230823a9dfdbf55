"""The home feed: fan-out on write, hybrid pull, rebuild, fall-through, visibility, cursors."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster
from tortoise import connections

from config.runtime import Runtime
from config.settings import Settings
from domain.feed import service as feed
from domain.feed import store as feed_store
from domain.feed.store import FEED_SIZE, PULLED_AUTHORS, FeedStore, Position
from domain.ids import next_id
from domain.media.models import Media
from domain.posts import flows as posts
from domain.posts import service as post_service
from domain.users.models import User
from resolvers.global_ids import to_global_id
from tests.client import GraphQLClient
from tests.factories import create_post, fan_out, follow, gid, make_media, make_user, token_for
from tests.jobs import drain
from workers.queues import FANOUT_QUEUE

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

FEED = """query($after: String, $first: Int) { feed(first: $first, after: $after) {
  edges { cursor node { id caption author { username } } } pageInfo { hasNextPage endCursor } } }"""


async def new_post(runtime: Runtime, author: User, caption: str = "") -> int:
    media = await make_media(author)
    return await posts.create_post(
        author_id=author.id,
        media_ids=[media.id],
        caption=caption,
        stores=runtime.post_stores,
        ports=runtime.ports,
    )


async def bulk_posts(author_ids: list[int], count: int) -> list[int]:
    """`count` posts spread over the authors in one statement, in creation order."""
    ids = [next_id() for _ in range(count)]
    authors = [author_ids[i % len(author_ids)] for i in range(count)]
    await connections.get("default").execute_query(
        "INSERT INTO posts (id, author_id, kind, caption, media_ids, hashtags, mention_ids,"
        " like_count, comment_count, save_count, created_at)"
        " SELECT id, author, 'PHOTO', '', '[]', '[]', '[]', 0, 0, 0, now()"
        " FROM unnest($1::bigint[], $2::bigint[]) AS t(id, author)",
        [ids, authors],
    )
    return ids


async def read_all(
    runtime: Runtime, viewer: User, *, first: int = 50, stores: feed.FeedStores | None = None
) -> list[int]:
    seen: list[int] = []
    after: Position | None = None
    for _ in range(1_000):
        page = await feed.read_page(
            viewer_id=viewer.id, first=first, after=after, stores=stores or runtime.feed_stores
        )
        seen += [p.id for p in page.posts]
        if not page.has_next:
            return seen
        after = page.positions[-1]
    raise AssertionError("the feed did not end")


async def page(client: GraphQLClient, token: str, **variables: Any) -> dict[str, Any]:
    data: dict[str, Any] = (await client.query(FEED, variables, token=token))["feed"]
    return data


def captions(data: dict[str, Any]) -> list[str]:
    return [edge["node"]["caption"] for edge in data["edges"]]


async def test_fanout_reaches_active_followers_once(runtime: Runtime) -> None:
    # given: two followers with feeds (active) and one without (away)
    author = await make_user("author")
    active = [await make_user("reader1"), await make_user("reader2")]
    away = await make_user("away")
    for reader in [*active, away]:
        await follow(reader, author, runtime.users)
    for reader in active:
        await read_all(runtime, reader)  # opening the app makes the feed

    # when: the post fans out, twice (arq delivers at least once)
    post_id = await new_post(runtime, author, "hello")
    first = await fan_out(runtime, post_id)
    second = await fan_out(runtime, post_id)

    # then
    assert (first, second) == (2, 0)
    for reader in active:
        assert await runtime.feeds.ids(reader.id) == [post_id]
        # Their feeds had no entries before: the set was there all the same, expiring just
        # after its floor (a set the insert made would never expire).
        floor_ttl = await runtime.redis.ttl(feed_store.floor_key(reader.id))
        set_ttl = await runtime.redis.ttl(feed_store.feed_key(reader.id))
        assert 0 < floor_ttl < set_ttl <= floor_ttl + feed_store.SET_OUTLIVES_FLOOR_SECONDS
    assert not await runtime.feeds.exists(away.id)
    # The one who was away gets a feed made on return, with the post in it.
    assert await read_all(runtime, away) == [post_id]


async def test_fanout_in_many_chunks_after_redis_lost_its_scripts(runtime: Runtime) -> None:
    # given: an author with 2,500 followers (three Lua chunks), 2,000 of them active
    author = await make_user("author")
    follower_ids = [next_id() for _ in range(2_500)]
    db = connections.get("default")
    await db.execute_query(
        "INSERT INTO users (id, username, email, password_hash, full_name, bio, is_private,"
        " follower_count, following_count, post_count, created_at, updated_at)"
        " SELECT id, 'f' || id, id || '@example.test', 'x', '', '', false, 0, 1, 0, now(), now()"
        " FROM unnest($1::bigint[]) AS t(id)",
        [follower_ids],
    )
    await db.execute_query(
        "INSERT INTO follows (id, follower_id, followee_id, status, created_at)"
        " SELECT id + 1, id, $2, 'ACTIVE', now() FROM unnest($1::bigint[]) AS t(id)",
        [follower_ids, author.id],
    )
    active = follower_ids[:2_000]
    for user_id in active:
        await runtime.feeds.replace(user_id, [], floor=0)
    post_id = await new_post(runtime, author, "to many")
    await runtime.redis.script_flush()  # as after a Redis restart

    # when: it fans out, twice
    first = await fan_out(runtime, post_id)
    second = await fan_out(runtime, post_id)

    # then: every active feed has it once; no feed was made for the others
    assert (first, second) == (2_000, 0)
    assert await runtime.feeds.ids(active[0]) == [post_id]
    assert await runtime.feeds.ids(active[-1]) == [post_id]
    assert not await runtime.feeds.exists(follower_ids[-1])


async def test_own_post_is_in_own_feed_at_once(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    token = token_for(ana, settings)
    assert captions(await page(client, token)) == []
    await create_post(client, token, [await make_media(ana)], "mine")
    # No worker has run: the author's own feed took it in the request.
    assert captions(await page(client, token)) == ["mine"]


async def test_followers_see_posts_after_fanout(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await follow(bo, ana, runtime.users)
    token = token_for(bo, settings)
    assert captions(await page(client, token)) == []
    for text in ["one", "two"]:
        post_id = await new_post(runtime, ana, text)
        await runtime.queue.enqueue_job("fanout_post", post_id, _queue_name=FANOUT_QUEUE)
    await drain(FANOUT_QUEUE, settings=settings, runtime=runtime)
    assert captions(await page(client, token)) == ["two", "one"]


async def test_large_accounts_are_pulled_at_read_time(runtime: Runtime) -> None:
    star, small = await make_user("star"), await make_user("small")
    readers = [await make_user(f"r{i}") for i in range(3)]
    for reader in readers:
        await follow(reader, star, runtime.users)
    await follow(readers[0], small, runtime.users)
    stores = dataclasses.replace(runtime.feed_stores, max_followers=2)  # star is "large"
    await read_all(runtime, readers[0], stores=stores)

    star_post = await new_post(runtime, star, "from the star")
    small_post = await new_post(runtime, small, "from a friend")
    assert await fan_out(runtime, star_post, stores=stores) == 0  # not pushed
    assert await fan_out(runtime, small_post, stores=stores) == 1

    assert await runtime.feeds.ids(readers[0].id) == [small_post]
    assert await read_all(runtime, readers[0], stores=stores) == [small_post, star_post]


async def test_other_processes_learn_of_a_pulled_author_within_seconds(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: another API process, which has read the pulled authors (none) just now
    elsewhere = FeedStore(runtime.redis, runtime.reads, active_days=30)
    assert await elsewhere.pulled_authors() == set()

    # when: a fan-out here finds an author too large and marks them pulled
    await runtime.feeds.mark_pulled(12345, pulled=True)

    # then: this process knows at once; the other once its copy is PULLED_REFRESH_SECONDS old
    assert await runtime.feeds.pulled_authors() >= {12345}
    assert await elsewhere.pulled_authors() == set()
    monkeypatch.setattr(feed_store, "PULLED_REFRESH_SECONDS", 0.0)
    assert await elsewhere.pulled_authors() == {12345}


async def test_requests_arriving_together_read_the_pulled_authors_once(
    runtime: Runtime,
) -> None:
    async def smembers_calls() -> int:
        if isinstance(runtime.redis, RedisCluster):  # the node of the key
            node = runtime.redis.get_node_from_key(PULLED_AUTHORS)
            stats = await runtime.redis.info("commandstats", target_nodes=node)
        else:
            stats = await runtime.redis.info("commandstats")
        return int(stats.get("cmdstat_smembers", {}).get("calls", 0))

    # given: a process whose copy of the pulled authors is due to be read again
    await runtime.feeds.mark_pulled(12345, pulled=True)
    store = FeedStore(runtime.redis, runtime.reads, active_days=30)
    before = await smembers_calls()

    # when: many requests ask for it at once
    seen = await asyncio.gather(*(store.pulled_authors() for _ in range(20)))

    # then: one of them read it; the others went on with the copy they had
    assert await smembers_calls() - before == 1
    assert seen[0] == {12345}
    assert all(s in ({12345}, set()) for s in seen)


async def test_paging_past_the_window_falls_through_in_order(runtime: Runtime) -> None:
    # given: 3,000 posts by five followed accounts; the cached window holds 1,000
    authors = [await make_user(f"a{i}") for i in range(5)]
    reader = await make_user("reader")
    for author in authors:
        await follow(reader, author, runtime.users)
    ids = await bulk_posts([a.id for a in authors], 3_000)

    # when: the reader pages to the very end, 50 at a time
    seen = await read_all(runtime, reader, first=50)

    # then: every post once, newest first, no gaps
    assert len(await runtime.feeds.ids(reader.id)) == FEED_SIZE
    assert seen == sorted(ids, reverse=True)


async def test_a_window_trimmed_by_fanout_still_falls_through(runtime: Runtime) -> None:
    author, reader = await make_user("author"), await make_user("reader")
    await follow(reader, author, runtime.users)
    older = await bulk_posts([author.id], 900)
    await read_all(runtime, reader)  # a complete window (floor 0)
    newer: list[int] = []
    # fan-out pushes it over the cap: once it looks (one insert in 16, at random), it trims
    # back to FEED_SIZE and raises the floor
    while not int(await runtime.redis.get(feed_store.floor_key(reader.id)) or 0):
        assert len(newer) < 2_000, "never trimmed"
        [post_id] = await bulk_posts([author.id], 1)
        await fan_out(runtime, post_id)
        newer.append(post_id)
    # (the window's base marker is a member too, so the trim can come at exactly the slack)
    assert len(older) + len(newer) >= FEED_SIZE + feed_store.TRIM_SLACK
    assert len(await runtime.feeds.ids(reader.id)) == FEED_SIZE
    assert await read_all(runtime, reader, first=40) == sorted(older + newer, reverse=True)


async def test_cursors_are_stable_while_posts_arrive(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await follow(bo, ana, runtime.users)
    token = token_for(bo, settings)
    await page(client, token)
    made = []
    for i in range(8):
        post_id = await new_post(runtime, ana, f"p{i}")
        await fan_out(runtime, post_id)
        made.append(f"p{i}")
    first = await page(client, token, first=3)
    for i in range(8, 12):  # new posts land on top while the reader scrolls down
        post_id = await new_post(runtime, ana, f"p{i}")
        await fan_out(runtime, post_id)
    rest = await page(client, token, first=20, after=first["pageInfo"]["endCursor"])
    assert captions(first) + captions(rest) == list(reversed(made))
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_unfollow_block_and_delete_vanish_at_once(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo, cy = await make_user("ana"), await make_user("bo"), await make_user("cy")
    reader = await make_user("reader")
    for author in (ana, bo, cy):
        await follow(reader, author, runtime.users)
    token = token_for(reader, settings)
    await page(client, token)
    made = {}
    for author in (ana, bo, cy):
        made[author.username] = await new_post(runtime, author, author.username)
        await fan_out(runtime, made[author.username])
    assert sorted(captions(await page(client, token))) == ["ana", "bo", "cy"]

    # No worker runs in between: each change shows on the very next read.
    await client.mutate("unfollow", "user { id }", {"userId": gid(ana)}, token=token)
    await client.mutate("block", "blocked", {"userId": gid(reader)}, token=token_for(bo, settings))
    await client.mutate(
        "deletePost",
        "deletedId",
        {"postId": to_global_id("Post", made["cy"])},
        token=token_for(cy, settings),
    )
    assert captions(await page(client, token)) == []


async def test_a_removed_follower_of_a_private_account_loses_its_posts(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    hiro, fan = await make_user("hiro", private=True), await make_user("fan")
    await follow(fan, hiro, runtime.users)
    hiro_token, fan_token = token_for(hiro, settings), token_for(fan, settings)
    await client.mutate(
        "approveFollowRequest", "user { id }", {"userId": gid(fan)}, token=hiro_token
    )
    await page(client, fan_token)
    post_id = await new_post(runtime, hiro, "private")
    await fan_out(runtime, post_id)
    assert captions(await page(client, fan_token)) == ["private"]
    await client.mutate("removeFollower", "user { id }", {"userId": gid(fan)}, token=hiro_token)
    assert captions(await page(client, fan_token)) == []


async def test_follow_backfills_recent_posts(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, reader = await make_user("ana"), await make_user("reader")
    await new_post(runtime, ana, "before you followed")
    token = token_for(reader, settings)
    await page(client, token)  # an active reader with a feed
    await client.mutate("follow", "status", {"userId": gid(ana)}, token=token)
    await drain(FANOUT_QUEUE, settings=settings, runtime=runtime)
    assert len(await runtime.feeds.ids(reader.id)) == 1  # backfilled
    assert captions(await page(client, token)) == ["before you followed"]


async def test_signed_out_feed_is_an_error(client: GraphQLClient) -> None:
    body = await client.raw("{ feed { edges { cursor } } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_feed_read_again_shows_new_counts_and_edits(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    # given: bo has read ana's post in his feed (its objects are kept for the next reader)
    ana, bo = await make_user("ana"), await make_user("bo")
    await follow(bo, ana, runtime.users)
    post_id = await new_post(runtime, ana, "first")
    await fan_out(runtime, post_id)
    query = "{ feed { edges { node { caption likeCount author { fullName } } } } }"
    token = token_for(bo, settings)
    for _ in range(2):
        assert (await client.query(query, token=token))["feed"]["edges"] == [
            {"node": {"caption": "first", "likeCount": 0, "author": {"fullName": ""}}}
        ]

    # when: bo likes it, ana edits it and renames herself
    liked = await client.mutate(
        "likePost", "post { id }", {"postId": to_global_id("Post", post_id)}, token=token
    )
    assert liked["errors"] == []
    await post_service.edit_post(
        post_id=post_id, viewer_id=ana.id, caption="edited", stores=runtime.post_stores
    )
    renamed = await client.mutate(
        "updateProfile", "user { id }", {"fullName": "Ana"}, token=token_for(ana, settings)
    )
    assert renamed["errors"] == []

    # then: the next read shows all three
    assert (await client.query(query, token=token))["feed"]["edges"] == [
        {"node": {"caption": "edited", "likeCount": 1, "author": {"fullName": "Ana"}}}
    ]


async def test_media_read_ready_and_attached_are_not_read_again(runtime: Runtime) -> None:
    # given: an upload still processing, not attached to any post
    ana, bo = await make_user("ana"), await make_user("bo")
    upload = await make_media(ana, status="PROCESSING")
    await runtime.media.get(upload.id)
    assert runtime.media.settled([upload.id]) == ({}, [upload.id])

    # when: it is READY (not yet attached: not settled), then posted
    await Media.filter(id=upload.id).update(status="READY")
    await runtime.media.invalidate(upload.id)
    ready = await runtime.media.get(upload.id)
    assert ready is not None
    assert ready.status == "READY"
    assert runtime.media.settled([upload.id]) == ({}, [upload.id])
    await follow(bo, ana, runtime.users)
    post_id = await posts.create_post(
        author_id=ana.id,
        media_ids=[upload.id],
        stores=runtime.post_stores,
        ports=runtime.ports,
        caption="",
    )
    await fan_out(runtime, post_id)
    await runtime.media.get(upload.id)  # as the page's loader reads it

    # then: READY and attached, it is settled: pages take it without asking Redis
    known, others = runtime.media.settled([upload.id])
    assert others == []
    assert known[upload.id].attached_at is not None
    await runtime.redis.delete(*await runtime.redis.keys("c:media:*"))
    for _ in range(2):  # the first read learns the post's media ids
        shown = await feed.read_page(
            viewer_id=bo.id, first=5, after=None, stores=runtime.feed_stores
        )
    assert shown.media == known
