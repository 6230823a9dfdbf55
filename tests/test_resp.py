"""The hot path's batched reads (domain/resp.py) against the real Redis: the replies redis-py
would give, errors, a broken or cut-off connection, and the URL's database and credentials."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from config.settings import Settings
from domain.resp import ReadBatch, Reads


def queue_all(batch: Any) -> None:
    """The same commands into a ReadBatch or a redis-py pipeline."""
    batch.get("s")
    batch.get("missing")
    batch.mget(["s", "missing", "t"])
    batch.exists("s", "t", "missing")
    batch.expire("s", 600)
    batch.expire("missing", 600)
    batch.hgetall("h")
    batch.hgetall("missing")
    batch.smismember("set", ["a", "zz", "b"])
    batch.zrevrangebylex("z", "+", "-", start=0, num=3)
    batch.zrevrangebylex("z", "(c", "-")
    batch.zrevrangebyscore("scores", "+inf", "-inf", start=1, num=2, withscores=True)
    batch.zrevrangebyscore("scores", 2.5, "-inf")


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
    queue_all(batch)
    async with redis.pipeline(transaction=False) as pipe:
        queue_all(pipe)
        expected = await pipe.execute()

    got = await batch.execute()

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
    again.get("t")
    assert await again.execute() == ["2"]


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
    batch.get("t")
    assert await batch.execute() == ["2"]


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
        after.get("t")
        after.mget(["missing"])
        await redis.set("t", str(delay))
        assert await after.execute() == [str(delay), [None]]


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
        batch.get("only-in-3")
        assert await batch.execute() == ["yes"]
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
        batch.get("s")
        batch.mget(["t", f"missing-{i}"])
        return await batch.execute()

    got = await asyncio.gather(*(one(i) for i in range(50)))

    # then: each has its own replies, and Redis read them all in a few reads (the INFO calls
    # around them are two), on the one connection
    assert got == [["héllo", ["2", None]]] * 50
    after = int((await redis.info("stats"))["total_reads_processed"])
    assert after - before <= 5
    assert [client["name"] for client in await redis.client_list()].count("shutter-reads") == named


def test_an_empty_batch_needs_no_connection() -> None:
    batch = ReadBatch(Reads("redis://127.0.0.1:1/0"))  # nothing listens on port 1
    assert asyncio.run(batch.execute()) == []
