"""Real services for the suite: PostgreSQL, Redis and a live API server process.

TEST_DATABASE_URL / TEST_REDIS_URL point at servers to use (CI sets them to the machine's); when
unset, the embedded servers under .data/test are started. Each run makes its own database, and
each test starts from empty tables and an empty Redis database.

TEST_REDIS_TOPOLOGY=cluster runs the suite (`make test-cluster`: the tests marked `topology`) on
the scaled-out topology, all of its own on loopback ports: a 6-node Redis Cluster, the job
queues on the Redis of TEST_REDIS_URL (database 2), and a Postgres primary with a streaming
replica that the API reads through.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate

from config.database import tortoise_config
from config.embedded import database_url_for, start_embedded
from config.runtime import Runtime, build_store, start
from config.settings import PROJECT_ROOT, Settings
from domain.media.object_store import S3Store
from tests.client import GraphQLClient
from tests.servers import PostgresServer, RedisClusterServers, free_port, streaming_pair

TABLES = (
    "refresh_tokens",
    "follows",
    "blocks",
    "media",
    "users",
    "posts",
    "hashtags",
    "post_hashtags",
    "post_mentions",
    "likes",
    "saves",
    "comments",
    "comment_likes",
    "threads",
    "thread_members",
    "messages",
    "notifications",
    "reports",
    "moderation_cases",
    "moderation_actions",
    "spam_models",
    "stories",
    "story_views",
    "close_friends",
    "highlights",
    "highlight_stories",
    "view_events",
    "view_batches",
    "post_view_totals",
    "not_interested",
)
# Limits the live server runs with; tests that probe a limit read them from here.
LIVE_AUTH_RATE_LIMIT = 30
LIVE_MAX_DEPTH = 8


def _with_database(url: str, name: str) -> str:
    if "@/" in url:  # the embedded server's Unix-socket URL
        return database_url_for(url, name)
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


CLUSTER = os.environ.get("TEST_REDIS_TOPOLOGY") == "cluster"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers | None]:
    """The Redis Cluster the suite runs on with TEST_REDIS_TOPOLOGY=cluster, else None."""
    if not CLUSTER:
        yield None
        return
    cluster = RedisClusterServers(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_pair() -> Iterator[tuple[PostgresServer, PostgresServer] | None]:
    """With TEST_REDIS_TOPOLOGY=cluster, a Postgres primary of the run's own and its streaming
    replica, which the API reads through (DATABASE_REPLICA_URLS); else None. Commits on the
    primary wait until the replica has applied them (synchronous_commit = remote_apply), so
    that a test that writes and then reads sees its write wherever the read goes."""
    if not CLUSTER:
        yield None
        return
    with streaming_pair(synchronous_commit="remote_apply") as (primary, replica):
        # the replica is the synchronous standby from now on
        primary.execute(
            "ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()"
        )
        yield primary, replica


@pytest.fixture(scope="session")
def service_urls(
    redis_cluster: RedisClusterServers | None,
    postgres_pair: tuple[PostgresServer, PostgresServer] | None,
) -> Iterator[tuple[str, str]]:
    """(database URL of a fresh database, Redis URL) for this test run."""
    admin_url = postgres_pair[0].url if postgres_pair else os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    embedded = None
    if not admin_url or not redis_url:
        embedded, embedded_admin = start_embedded(
            PROJECT_ROOT / ".data" / "test", need_postgres=not admin_url, need_redis=not redis_url
        )
        admin_url = admin_url or embedded_admin
        redis_url = redis_url or embedded.redis_url
    assert admin_url
    assert redis_url
    name = f"shutter_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        url = _with_database(admin_url, name)
        try:
            await migrate(config=tortoise_config(url, pool_size=2))
        finally:
            await Tortoise.close_connections()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(create())
    if redis_cluster is not None:
        # the job queues stay on a standalone Redis (arq has no cluster support)
        parts = urlsplit(redis_url)
        redis_cluster.queue_url = urlunsplit((*parts[:2], "/2", "", ""))
        redis_url = redis_cluster.url
    try:
        yield _with_database(admin_url, name), redis_url
    finally:
        asyncio.run(drop())
        if embedded is not None:
            embedded.stop()


@pytest.fixture(scope="session")
def live_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def settings(
    service_urls: tuple[str, str],
    redis_cluster: RedisClusterServers | None,
    postgres_pair: tuple[PostgresServer, PostgresServer] | None,
    live_port: int,
    media_root: Path,
) -> Settings:
    """The settings of the in-process runtime; they match the live server's."""
    database_url, redis_url = service_urls
    replica = ""
    if postgres_pair is not None:
        replica = _with_database(postgres_pair[1].url, urlsplit(database_url).path.lstrip("/"))
    return Settings(
        environment="test",
        database_url=database_url,
        database_replica_urls=replica,
        redis_url=redis_url,
        redis_queue_url=redis_cluster.queue_url if redis_cluster else None,
        redis_cluster=CLUSTER or None,
        media_root=media_root,
        public_base_url=f"http://127.0.0.1:{live_port}",
        ranking_model_check_seconds=0,  # a model a test publishes serves at once
    )


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    assert settings.database_url
    assert settings.redis_url
    rt = await start(settings, database_url=settings.database_url, redis_url=settings.redis_url)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture(autouse=True)
async def clean_state(runtime: Runtime) -> None:
    """Every test starts from empty tables and an empty Redis database."""
    await connections.get("default").execute_script(
        f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"
    )
    await runtime.redis.flushdb()
    if CLUSTER:
        await runtime.queue.flushdb()


@pytest.fixture
def redis(runtime: Runtime) -> Redis:
    return runtime.redis


def _start_server(port: int, env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    log_path = PROJECT_ROOT / ".data" / log_name  # kept for reading after a failure
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own server
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "config.asgi:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-proxy-headers",
            ],
            env={**os.environ, **env},
            cwd=PROJECT_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


# The origin of a frontend the live server lets call it (a Vite dev server's).
FRONTEND_ORIGIN = "http://localhost:5173"


def live_env(settings: Settings) -> dict[str, str]:
    assert settings.database_url
    assert settings.redis_url
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "MEDIA_ROOT": str(settings.media_root),
        "PUBLIC_BASE_URL": settings.public_base_url,
        "AUTH_RATE_LIMIT_PER_MINUTE": str(LIVE_AUTH_RATE_LIMIT),
        "GRAPHQL_MAX_DEPTH": str(LIVE_MAX_DEPTH),
        "CORS_ALLOW_ORIGINS": FRONTEND_ORIGIN,
        **(
            {
                "REDIS_CLUSTER": "true",
                "REDIS_QUEUE_URL": settings.redis_queue_url or "",
                "DATABASE_REPLICA_URLS": settings.database_replica_urls,
            }
            if CLUSTER
            else {}
        ),
        "RANKING_MODEL_CHECK_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def live_server(settings: Settings, live_port: int) -> Iterator[str]:
    """A real API process (uvicorn) on a loopback port, as a frontend would reach it."""
    process = _start_server(live_port, live_env(settings), "live-server.log")
    try:
        yield f"http://127.0.0.1:{live_port}"
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def second_live_server(settings: Settings) -> Iterator[str]:
    """Another API process on the same Postgres and Redis, as behind a load balancer."""
    port = free_port()
    process = _start_server(port, live_env(settings), "live-server-2.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's standalone S3 server on loopback, spoken to over HTTP like any S3."""
    port = free_port()
    log_path = PROJECT_ROOT / ".data" / "moto.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - a fixed local command
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"moto did not start:\n{log_path.read_text()}") from None
            time.sleep(0.1)
    try:
        yield url
    finally:
        _stop(process)


S3_BUCKET = "shutter-test-media"


@pytest.fixture(scope="session")
def s3_settings(settings: Settings, moto_server: str) -> Settings:
    return settings.model_copy(
        update={
            "s3_endpoint_url": moto_server,
            "s3_bucket": S3_BUCKET,
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing",
            "cdn_base_url": "https://cdn.example.test",
        }
    )


@pytest.fixture(scope="session")
async def s3_store(s3_settings: Settings) -> AsyncIterator[S3Store]:
    store = build_store(s3_settings)
    assert isinstance(store, S3Store)
    s3 = await store._s3()
    await s3.create_bucket(Bucket=S3_BUCKET)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(scope="session")
def s3_live_server(s3_settings: Settings, s3_store: S3Store) -> Iterator[str]:
    """A second live API process whose media go to the S3 server."""
    port = free_port()
    env = {
        **live_env(s3_settings),
        "S3_ENDPOINT_URL": str(s3_settings.s3_endpoint_url),
        "S3_BUCKET": S3_BUCKET,
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
        "CDN_BASE_URL": "https://cdn.example.test",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    process = _start_server(port, env, "live-server-s3.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@pytest.fixture
async def client(live_server: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        yield GraphQLClient(http)
