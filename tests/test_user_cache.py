"""Users are served from Redis and invalidated on write."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import cast

from redis.asyncio import Redis

from config.database import StatementLog, current_statements
from config.runtime import Runtime
from domain.cache import take_leases
from domain.users import service as users
from domain.users.store import following_key
from tests.factories import follow, make_user


async def test_a_loaded_user_is_cached_and_the_second_read_runs_no_sql(
    runtime: Runtime, redis: Redis
) -> None:
    ana = await make_user("ana", bio="hello")
    await runtime.users.get(ana.id)

    cached = await redis.get(f"c:user:{{{ana.id}}}")
    assert cached is not None
    assert json.loads(cached)["bio"] == "hello"
    assert "password_hash" not in json.loads(cached)
    log = StatementLog()
    token = current_statements.set(log)
    try:
        again = await runtime.users.get(ana.id)
    finally:
        current_statements.reset(token)
    assert again is not None
    assert again.bio == "hello"
    assert log.count == 0


async def test_writes_invalidate_the_cached_copy(runtime: Runtime, redis: Redis) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await runtime.users.get_many([ana.id, bo.id])

    await users.update_profile(user_id=ana.id, users=runtime.users, bio="changed")
    await follow(bo, ana, runtime.users)

    assert await redis.exists(f"c:user:{{{ana.id}}}", f"c:user:{{{bo.id}}}") == 0
    fresh = await runtime.users.get_many([ana.id, bo.id])
    assert fresh[ana.id].bio == "changed"
    assert fresh[ana.id].follower_count == 1
    assert fresh[bo.id].following_count == 1


async def test_missing_users_are_simply_absent(runtime: Runtime) -> None:
    ana = await make_user("ana")
    found = await runtime.users.get_many([ana.id, 12345, ana.id])
    assert list(found) == [ana.id]


async def test_a_fill_that_raced_a_write_is_dropped(runtime: Runtime, redis: Redis) -> None:
    # given: a reader missed ana, took its lease and read her row from Postgres...
    ana = await make_user("ana", bio="before")
    key = f"c:user:{{{ana.id}}}"
    token = await take_leases(redis, [key])
    read_before_the_write = await runtime.users.get(ana.id)
    await redis.delete(key)  # (that read cached her; this reader's copy is not in Redis yet)
    assert read_before_the_write is not None

    # when: a writer commits and invalidates before the reader stores its copy
    await users.update_profile(user_id=ana.id, users=runtime.users, bio="after")
    await runtime.users.rows.fill(token, [read_before_the_write])

    # then: the stale copy was not stored; the next read is fresh
    assert await redis.get(key) is None
    fresh = await runtime.users.get(ana.id)
    assert fresh is not None
    assert fresh.bio == "after"


async def test_a_fill_with_its_lease_standing_is_stored(runtime: Runtime, redis: Redis) -> None:
    ana = await make_user("ana", bio="hello")
    view = await runtime.users.get(ana.id)
    assert view is not None
    await runtime.users.invalidate(ana.id)

    token = await take_leases(redis, [f"c:user:{{{ana.id}}}"])
    await runtime.users.rows.fill(token, [view])

    assert json.loads(await redis.get(f"c:user:{{{ana.id}}}"))["bio"] == "hello"
    assert await redis.exists(f"c:user:{{{ana.id}}}:lease") == 0  # used up


async def test_whom_a_user_follows_is_not_cached_stale(runtime: Runtime, redis: Redis) -> None:
    # given: a reader took the lease on whom bo follows and read that he follows nobody
    bo, ana = await make_user("bo"), await make_user("ana")
    token = await take_leases(redis, [following_key(bo.id)])

    # when: bo follows ana before the reader stores what it read
    await follow(bo, ana, runtime.users)
    await runtime.users.fill_following(token, bo.id, set())

    # then: the stale set was not stored
    assert await redis.exists(following_key(bo.id)) == 0
    assert await runtime.users.following_ids(bo.id) == {ana.id}
    cached = await cast(Awaitable[set[str]], redis.smembers(following_key(bo.id)))
    assert cached == {"0", str(ana.id)}


async def test_an_unchanged_cached_row_is_decoded_once(runtime: Runtime) -> None:
    ana = await make_user("ana", bio="one")
    await runtime.users.get(ana.id)  # cached

    first, again = await runtime.users.get(ana.id), await runtime.users.get(ana.id)
    assert first is again  # the same bytes in Redis: the view decoded last time

    await users.update_profile(user_id=ana.id, users=runtime.users, bio="two")
    await runtime.users.get(ana.id)  # cached anew
    changed = await runtime.users.get(ana.id)
    assert changed is not None
    assert changed.bio == "two"
