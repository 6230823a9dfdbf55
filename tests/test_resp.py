"""The hot path's batched reads (config/redis_reads.py) against the real Redis: the replies redis-py
would give, errors, a broken or cut-off connection, and the URL's database and credentials."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from functools import partial
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from config.redis_reads import PipelinedBatch
from config.redis_reads import PipelinedReads as Reads
from config.settings import Settings
from domain.reads import Reply


def queue_all(batch: Any) -> list[Any]:
    """The same commands into a batch or a redis-py pipeline (whose queueing methods return
    the pipeline, not a reply)."""
    withscores = (
        batch.zrevrangebyscore_withscores
        if isinstance(batch, PipelinedBatch)
        else partial(batch.zrevrangebyscore, withscores=True)
    )
    return [
        batch.get("s"),
        batch.get("missing"),
        batch.mget(["s", "missing", "t"]),
        batch.exists("s", "t", "missing"),
        batch.expire("s", 600),
        batch.expire("missing", 600),
        batch.hgetall("h"),
        batch.hgetall("missing"),
        batch.smismember("set", ["a", "zz", "b"]),
        batch.zrevrangebylex("z", "+", "-", start=0, num=3),
        batch.zrevrangebylex("z", "(c", "-"),
        withscores("scores", "+inf", "-inf", start=1, num=2),
        batch.zrevrangebyscore("scores", 2.5, "-inf"),
    ]


async def values(batch: PipelinedBatch, *replies: Reply[Any]) -> list[Any]:
    """Run the batch; the values of these replies."""
    await batch.execute()
    return [reply.value for reply in replies]


async def seed(redis: Redis) -> None:
    await redis.set("s", "héllo")
    await redis.set("t", "2")
    await cast(Awaitable[int], redis.hset("h", mapping={"like_count": 3, "comment_count": 0}))
    await cast(Awaitable[int], redis.sadd("set", "a", "b"))
    await redis.zadd("z", {m: 0 for m in "abcde"})
    await redis.zadd("scores", {"x": 1.5, "y": 2.5, "z": 3.25})


@pytest.fixture
async def reads(settings: Settings) -> Any:
    assert settings.redis_url
    reads = Reads(settings.redis_url)
    yield reads
    await reads.close()


async def test_replies_are_shaped_as_redis_py_shapes_them(redis: Redis, reads: Reads) -> None:
    await seed(redis)
    batch = reads.batch()
    replies = queue_all(batch)
    async with redis.pipeline(transaction=False) as pipe:
        queue_all(pipe)
        expected = await pipe.execute()

    got = await values(batch, *replies)

    assert got == expected
    assert got[6] == {"like_count": "3", "comment_count": "0"}
    assert got[11] == [("y", 2.5), ("x", 1.5)]


async def test_an_error_reply_is_raised_and_the_connection_stays_in_step(
    redis: Redis, reads: Reads
) -> None:
    await seed(redis)
    batch = reads.batch()
    batch.get("s")
    batch.hgetall("s")  # a string: WRONGTYPE
    batch.get("t")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await batch.execute()

    again = reads.batch()
    assert await values(again, again.get("t")) == ["2"]


async def test_a_connection_killed_while_idle_is_replaced(redis: Redis, reads: Reads) -> None:
    await seed(redis)
    first = reads.batch()
    first.get("s")
    await first.execute()  # the connection, idle now
    assert reads._pipeline is not None
    assert reads._pipeline.transport is not None

    host, port = reads._pipeline.transport.get_extra_info("sockname")[:2]
    await redis.client_kill(f"{host}:{port}")

    batch = reads.batch()
    assert await values(batch, batch.get("t")) == ["2"]


async def test_a_batch_cut_off_leaves_nothing_for_the_next(redis: Redis, reads: Reads) -> None:
    # given: many batches cut off at every point of their round trip
    await redis.set("big", "x" * 200_000)
    for delay in range(6):
        batch = reads.batch()
        batch.mget(["big"] * 20)
        task = asyncio.create_task(batch.execute())
        for _ in range(delay):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

        # then: the next batch on the pool reads its own replies
        after = reads.batch()
        replies = after.get("t"), after.mget(["missing"])
        await redis.set("t", str(delay))
        assert await values(after, *replies) == [str(delay), [None]]


async def test_the_urls_database_and_credentials_are_used(redis: Redis, settings: Settings) -> None:
    # given: an ACL user, and a key in database 3 only
    assert settings.redis_url
    parts = urlsplit(settings.redis_url)
    in_db3 = Redis.from_url(urlunsplit(parts._replace(path="/3")), decode_responses=True)
    await in_db3.set("only-in-3", "yes")
    await redis.acl_setuser(
        "shutter_reads", enabled=True, passwords=["+s3cret"], keys=["*"], commands=["+@all"]
    )
    netloc = f"shutter_reads:s3cret@{parts.hostname}:{parts.port}"
    try:
        signed_in = Reads(urlunsplit(parts._replace(netloc=netloc, path="/3")))
        batch = signed_in.batch()
        assert await values(batch, batch.get("only-in-3")) == ["yes"]
        await signed_in.close()

        wrong = Reads(urlunsplit(parts._replace(netloc=netloc.replace("s3cret", "nope"))))
        refused = wrong.batch()
        refused.get("only-in-3")
        with pytest.raises(ResponseError):
            await refused.execute()
        await wrong.close()
    finally:
        await redis.acl_deluser("shutter_reads")
        await in_db3.delete("only-in-3")
        await in_db3.aclose()


async def test_batches_of_one_turn_share_one_connection_and_one_write(
    redis: Redis, reads: Reads
) -> None:
    # given: the connection open, and what Redis has read so far
    await seed(redis)
    warm = reads.batch()
    warm.get("t")
    await warm.execute()
    named = [client["name"] for client in await redis.client_list()].count("shutter-reads")
    before = int((await redis.info("stats"))["total_reads_processed"])

    # when: 50 requests read at once, each its own batch
    async def one(i: int) -> list[Any]:
        batch = reads.batch()
        return await values(batch, batch.get("s"), batch.mget(["t", f"missing-{i}"]))

    got = await asyncio.gather(*(one(i) for i in range(50)))

    # then: each has its own replies, and Redis read them all in a few reads (the INFO calls
    # around them are two), on the one connection
    assert got == [["héllo", ["2", None]]] * 50
    after = int((await redis.info("stats"))["total_reads_processed"])
    assert after - before <= 5
    assert [client["name"] for client in await redis.client_list()].count("shutter-reads") == named


def test_an_empty_batch_needs_no_connection() -> None:
    batch = Reads("redis://127.0.0.1:1/0").batch()  # nothing listens on port 1
    asyncio.run(batch.execute())


def test_a_reply_read_before_its_batch_ran_is_an_error() -> None:
    batch = Reads("redis://127.0.0.1:1/0").batch()
    reply = batch.get("s")
    with pytest.raises(RuntimeError, match="has not run"):
        _ = reply.value


async def test_each_reply_is_its_own_commands_whatever_the_order(
    redis: Redis, reads: Reads
) -> None:
    # given: the same reads queued in two orders
    await seed(redis)
    forward = reads.batch()
    counters, members, text = (
        forward.hgetall("h"),
        forward.zrevrangebylex("z", "+", "-"),
        forward.get("s"),
    )
    backward = reads.batch()
    text_2, members_2, counters_2 = (
        backward.get("s"),
        backward.zrevrangebylex("z", "+", "-"),
        backward.hgetall("h"),
    )

    await asyncio.gather(forward.execute(), backward.execute())

    # then: each handle holds its own command's reply
    assert (
        (counters.value, members.value, text.value)
        == (
            counters_2.value,
            members_2.value,
            text_2.value,
        )
        == ({"like_count": "3", "comment_count": "0"}, list("edcba"), "héllo")
    )
