"""Users are served from Redis and invalidated on write."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from config.database import StatementLog, current_statements
from config.runtime import Runtime
from domain.users import service as users
from tests.factories import follow, make_user


async def test_a_loaded_user_is_cached_and_the_second_read_runs_no_sql(
    runtime: Runtime, redis: Redis
) -> None:
    ana = await make_user("ana", bio="hello")
    await runtime.users.get(ana.id)

    cached = await redis.get(f"c:user:{ana.id}")
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

    assert await redis.exists(f"c:user:{ana.id}", f"c:user:{bo.id}") == 0
    fresh = await runtime.users.get_many([ana.id, bo.id])
    assert fresh[ana.id].bio == "changed"
    assert fresh[ana.id].follower_count == 1
    assert fresh[bo.id].following_count == 1


async def test_missing_users_are_simply_absent(runtime: Runtime) -> None:
    ana = await make_user("ana")
    found = await runtime.users.get_many([ana.id, 12345, ana.id])
    assert list(found) == [ana.id]
