"""Reads from a Postgres streaming replica (DATABASE_REPLICA_URLS): a primary and a replica of
the test's own (initdb, then pg_basebackup -R), API processes on both, and the replica paused,
stopped and restarted under them."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from config.settings import PROJECT_ROOT, Settings
from domain.ids import next_id
from domain.users.tokens import create_access_token
from tests.client import GraphQLClient
from tests.conftest import _start_server, _stop, live_env
from tests.servers import PostgresServer, RedisServer, free_port, streaming_pair

pytestmark = pytest.mark.faults
# Waits below poll the servers' own state (replay position, /metrics): nothing to await there.
# ruff: noqa: ASYNC110

BIO = "query($name: String!) { user(username: $name) { bio } }"


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PostgresServer, PostgresServer]]:
    """A migrated primary and its streaming replica."""
    with streaming_pair(prepare=_migrate) as (primary, replica):
        yield primary, replica


def _migrate(primary: PostgresServer) -> None:
    migrate = subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate"],
        env={**os.environ, "DATABASE_URL": primary.url, "REDIS_URL": "redis://127.0.0.1:1/0"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("replica-redis")).start()
    try:
        yield server
    finally:
        server.stop()


def _api(
    settings: Settings,
    pair: tuple[PostgresServer, PostgresServer],
    redis: RedisServer,
    *,
    max_lag_ms: int,
    log_name: str,
) -> tuple[subprocess.Popen[bytes], str]:
    primary, replica = pair
    env = {
        **live_env(settings),
        "DATABASE_URL": primary.url,
        "DATABASE_REPLICA_URLS": replica.url,
        "DATABASE_REPLICA_MAX_LAG_MS": str(max_lag_ms),
        "REDIS_URL": redis.url,
        "RATE_LIMIT_PER_MINUTE": "100000",
    }
    port = free_port()
    return _start_server(port, env, log_name), f"http://127.0.0.1:{port}"


@pytest.fixture
async def fresh_redis(own_redis: RedisServer) -> RedisServer:
    client = Redis.from_url(own_redis.url)
    await client.flushdb()
    await client.aclose()
    return own_redis


async def _people(primary: PostgresServer, settings: Settings, *names: str) -> list[str]:
    """Accounts made in the primary (not through the API: a sign-up starts its viewer's sticky
    window), and their access tokens."""
    conn = await asyncpg.connect(primary.url)
    tokens = []
    try:
        for name in names:
            user_id = next_id()
            await conn.execute(
                "INSERT INTO users (id, username, email, password_hash, full_name, bio,"
                " is_private, follower_count, following_count, post_count, created_at,"
                " updated_at) VALUES ($1, $2, $3, 'x', '', '', false, 0, 0, 0, now(), now())",
                user_id,
                name,
                f"{name}@example.test",
            )
            tokens.append(
                create_access_token(user_id=user_id, secret=settings.jwt_secret, ttl_seconds=600)
            )
    finally:
        await conn.close()
    return tokens


async def _caught_up(primary: PostgresServer, replica: PostgresServer) -> None:
    """Until the replica has replayed everything the primary has written."""
    conn = await asyncpg.connect(primary.url)
    try:
        target = await conn.fetchval("SELECT pg_current_wal_lsn()")
    finally:
        await conn.close()
    conn = await asyncpg.connect(replica.url)
    try:
        async with asyncio.timeout(15):
            while await conn.fetchval("SELECT pg_last_wal_replay_lsn() < $1::pg_lsn", target):
                await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def _until(done: Callable[[], Awaitable[bool]], *, seconds: float = 15) -> None:
    """Ask `done` every 0.2 s until it says yes, for at most `seconds`."""
    async with asyncio.timeout(seconds):
        while not await done():
            await asyncio.sleep(0.2)


async def _usable(http: httpx.AsyncClient, value: int) -> bool:
    return await _gauge(http, "shutter_replica_usable") == value


async def _gauge(http: httpx.AsyncClient, name: str) -> float:
    text = (await http.get("/metrics")).text
    found = re.search(rf'^{name}{{replica="replica0"}} (\S+)$', text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


async def _replay(replica: PostgresServer, *, paused: bool) -> None:
    conn = await asyncpg.connect(replica.url)
    try:
        await conn.execute(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()")
    finally:
        await conn.close()


async def test_reads_go_to_the_replica_and_writers_read_their_own_writes(
    settings: Settings, pair: tuple[PostgresServer, PostgresServer], fresh_redis: RedisServer
) -> None:
    primary, replica = pair
    # given: an API process whose replica may be far behind, and two people
    server, url = _api(settings, pair, fresh_redis, max_lag_ms=30_000, log_name="replica-1.log")
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            client = GraphQLClient(http)
            ana, bo = await _people(primary, settings, "ana_r", "bo_r")
            await _caught_up(primary, replica)
            assert await _gauge(http, "shutter_replica_usable") == 1

            # when: the replica stops replaying, and ana changes her bio
            await _replay(replica, paused=True)
            changed = await client.mutate(
                "updateProfile", "user { bio }", {"bio": "new bio"}, token=ana
            )
            assert changed["user"]["bio"] == "new bio"
            # (the payload's read cached the new row; it goes, as its TTL would make it)
            cache = Redis.from_url(fresh_redis.url)
            await cache.delete(*await cache.keys("c:user:*"))
            await cache.aclose()

            # then: bo's read is served by the replica, a moment behind ...
            other = await client.query(BIO, {"name": "ana_r"}, token=bo)
            assert other["user"]["bio"] == ""
            # ... while ana reads her own write (the primary, for her sticky window), though
            # bo's read left the replica's copy in the row cache
            own = await client.query(BIO, {"name": "ana_r"}, token=ana)
            assert own["user"]["bio"] == "new bio"
    finally:
        await _replay(replica, paused=False)
        _stop(server)


async def test_a_replica_behind_its_bound_is_skipped_and_used_again_once_it_catches_up(
    settings: Settings, pair: tuple[PostgresServer, PostgresServer], fresh_redis: RedisServer
) -> None:
    primary, replica = pair
    server, url = _api(settings, pair, fresh_redis, max_lag_ms=1_000, log_name="replica-2.log")
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            client = GraphQLClient(http)
            ana, bo = await _people(primary, settings, "ana_s", "bo_s")
            await _caught_up(primary, replica)
            # given: a replica that stopped replaying while ana wrote
            await _replay(replica, paused=True)
            await client.mutate("updateProfile", "user { bio }", {"bio": "later"}, token=ana)
            # when: its lag passes the bound, then: reads leave it, and bo sees the write
            await _until(lambda: _usable(http, 0))

            async def bo_sees_it() -> bool:
                body = await client.query(BIO, {"name": "ana_s"}, token=bo)
                return bool(body["user"]["bio"] == "later")

            await _until(bo_sees_it)
            # and once it has caught up, it is read again
            await _replay(replica, paused=False)
            await _until(lambda: _usable(http, 1))
    finally:
        await _replay(replica, paused=False)
        _stop(server)


async def test_the_replica_stopped_and_restarted_under_load_fails_no_request(
    settings: Settings, pair: tuple[PostgresServer, PostgresServer], fresh_redis: RedisServer
) -> None:
    primary, replica = pair
    server, url = _api(settings, pair, fresh_redis, max_lag_ms=2_000, log_name="replica-3.log")
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            client = GraphQLClient(http)
            (ana,) = await _people(primary, settings, "ana_t")
            await client.mutate("updateProfile", "user { bio }", {"bio": "steady"}, token=ana)
            readers = await _people(primary, settings, *(f"reader_{i}" for i in range(4)))
            await _caught_up(primary, replica)
            outcomes: list[Any] = []
            stop = asyncio.Event()

            async def read(token: str) -> None:
                while not stop.is_set():
                    body = await client.raw(
                        "query($name: String!) { user(username: $name) { bio"
                        " posts(first: 5) { edges { node { id } } } } }",
                        {"name": "ana_t"},
                        token=token,
                    )
                    outcomes.append(body.get("errors") or body["data"]["user"]["bio"])
                    await asyncio.sleep(0.01)

            loads = [asyncio.create_task(read(token)) for token in readers]
            # when: the replica goes away for a few seconds, then comes back
            await asyncio.sleep(1)
            await asyncio.to_thread(replica.stop)
            await asyncio.sleep(3)
            down = await _gauge(http, "shutter_replica_usable")
            await asyncio.to_thread(replica.start)
            await _until(lambda: _usable(http, 1), seconds=20)
            await asyncio.sleep(1)
            stop.set()
            await asyncio.gather(*loads)

            # then: reads moved to the primary and back, and not one failed
            assert down == 0
            assert len(outcomes) > 50
            assert [o for o in outcomes if o != "steady"] == []
    finally:
        _stop(server)
