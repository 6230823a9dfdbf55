"""Counters are derived state: after Redis loses increments, or an increment fails after its
row was committed, the reconcile job makes them equal to the rows again."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from config.runtime import Runtime
from domain.posts import counters
from domain.posts import flows as post_flows
from domain.posts import service as posts
from domain.posts.models import Like, Post
from tests.factories import make_media, make_user
from tests.servers import free_port

QUIET = 0.3  # the quiet period, shortened for the tests


async def new_post(runtime: Runtime) -> int:
    author = await make_user()
    media = await make_media(author)
    return await post_flows.create_post(
        author_id=author.id,
        media_ids=[media.id],
        caption="count me",
        stores=runtime.post_stores,
        ports=runtime.ports,
    )


async def like_count(runtime: Runtime, post_id: int) -> int:
    return (await counters.read(runtime.redis, "post", [post_id]))[post_id]["like_count"]


async def likes_by(runtime: Runtime, post_id: int, n: int) -> None:
    for _ in range(n):
        user = await make_user()
        assert await posts.set_like(
            user_id=user.id, post_id=post_id, liked=True, redis=runtime.redis
        )


async def test_a_counter_seeded_after_redis_lost_it_is_recounted(runtime: Runtime) -> None:
    # given: 5 likes flushed to the row, 3 more in Redis only, and then Redis loses the counter
    post_id = await new_post(runtime)
    await likes_by(runtime, post_id, 5)
    await counters.flush(runtime.redis, "post")
    await likes_by(runtime, post_id, 3)
    await runtime.redis.delete(
        counters.counter_key("post", post_id)
    )  # as a Redis restart without AOF does

    # when: one more like seeds the counter from the (stale) row
    await likes_by(runtime, post_id, 1)
    assert await like_count(runtime, post_id) == 6  # 5 from the row, plus one: 3 lost

    # then: once it is quiet, the reconcile job recounts it from the rows, and the flush
    # writes that back
    await asyncio.sleep(QUIET)
    assert await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET) >= 1
    assert await like_count(runtime, post_id) == 9
    await counters.flush(runtime.redis, "post")
    assert (await Post.get(id=post_id)).like_count == 9


async def test_a_like_whose_increment_failed_is_counted_once_after_the_retry(
    runtime: Runtime,
) -> None:
    # given: a like whose row is committed but whose increment finds Redis gone
    post_id = await new_post(runtime)
    await likes_by(runtime, post_id, 2)
    user = await make_user()
    gone = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    with pytest.raises(RedisConnectionError):
        await posts.set_like(user_id=user.id, post_id=post_id, liked=True, redis=gone)
    await gone.aclose()

    # when: the client retries, and finds it liked already
    assert not await posts.set_like(
        user_id=user.id, post_id=post_id, liked=True, redis=runtime.redis
    )
    assert await like_count(runtime, post_id) == 2  # the failed increment is missing

    # then: the reconcile job notes it, and counts it once it is quiet, once
    await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET)
    assert await like_count(runtime, post_id) == 2  # not quiet long enough yet
    await asyncio.sleep(QUIET)
    await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET)
    assert await like_count(runtime, post_id) == 3
    await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET)
    assert await like_count(runtime, post_id) == 3


async def test_a_counter_that_keeps_moving_is_not_recounted_until_it_rests(
    runtime: Runtime,
) -> None:
    # given: a counter seeded from a stale row after a loss (2 likes short), that then keeps
    # taking likes
    post_id = await new_post(runtime)
    await likes_by(runtime, post_id, 1)
    await counters.flush(runtime.redis, "post")
    await likes_by(runtime, post_id, 2)
    await runtime.redis.delete(counters.counter_key("post", post_id))
    await likes_by(runtime, post_id, 1)
    assert await like_count(runtime, post_id) == 2  # 4 rows
    for _ in range(3):
        await asyncio.sleep(QUIET / 2)
        await likes_by(runtime, post_id, 1)
        # when: the job runs while it moves
        await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET)

    # then: it was left alone (a recount then could count a like whose increment is still on
    # its way), and is recounted once it rests
    assert await like_count(runtime, post_id) == 5  # 7 rows
    await asyncio.sleep(QUIET)
    assert await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET) >= 1
    assert await like_count(runtime, post_id) == 7


async def test_a_recount_never_counts_a_row_whose_increment_is_on_its_way(
    runtime: Runtime,
) -> None:
    # given: a counter noted as a candidate (seeded after a loss) and quiet since
    post_id = await new_post(runtime)
    await likes_by(runtime, post_id, 1)
    await counters.flush(runtime.redis, "post")
    await runtime.redis.delete(counters.counter_key("post", post_id))
    await likes_by(runtime, post_id, 1)  # seeded from the row: 1 + 1
    await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET)
    await asyncio.sleep(QUIET)

    # when: a like's row is committed and the job runs before that like's increment lands
    liker = await make_user()
    await Like.create(post_id=post_id, user_id=liker.id)
    await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET)
    await counters.bump(runtime.redis, "post", post_id, "like_count", 1)  # it lands

    # then: the like is counted once, then and after the next recount
    assert await like_count(runtime, post_id) == 3
    await asyncio.sleep(QUIET)
    await counters.reconcile(runtime.redis, "post", quiet_seconds=QUIET)
    assert await like_count(runtime, post_id) == 3


async def test_many_bumps_in_one_call_seed_the_counters_redis_does_not_hold(
    runtime: Runtime,
) -> None:
    held, fresh = await new_post(runtime), await new_post(runtime)
    await counters.bump(runtime.redis, "post", held, "view_count", 5)  # now in Redis
    await Post.filter(id=fresh).update(view_count=7)  # only in its row
    await counters.bump_many(
        runtime.redis,
        "post",
        [(held, "view_count", 2), (held, "play_count", 1), (fresh, "view_count", 3)],
    )
    values = await counters.read(runtime.redis, "post", [held, fresh])
    assert (values[held]["view_count"], values[held]["play_count"]) == (7, 1)
    assert values[fresh]["view_count"] == 10  # seeded from its row, then bumped
    await counters.flush(runtime.redis, "post")
    rows = {p.id: p for p in await Post.filter(id__in=[held, fresh])}
    assert (rows[held].view_count, rows[held].play_count, rows[fresh].view_count) == (7, 1, 10)
