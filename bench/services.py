"""What the benchmarks share: a scratch database on the configured or embedded servers, and
starting an app under uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.embedded import database_url_for, start_embedded  # noqa: E402


@asynccontextmanager
async def scratch_database(name: str) -> AsyncIterator[tuple[str, str]]:
    """(database URL, Redis URL): a fresh, migrated database `name` on DATABASE_URL's server
    (or the embedded one under .data/bench), and REDIS_URL's Redis (or the embedded one)."""
    from tortoise import Tortoise
    from tortoise.migrations.api.migrate import migrate

    from config.database import tortoise_config

    admin_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    embedded = None
    if not admin_url or not redis_url:
        data_dir = ROOT / ".data" / "bench"
        data_dir.mkdir(parents=True, exist_ok=True)
        embedded, embedded_admin = start_embedded(
            data_dir, need_postgres=not admin_url, need_redis=not redis_url
        )
        admin_url = admin_url or embedded_admin
        redis_url = redis_url or embedded.redis_url
    assert admin_url
    assert redis_url
    if "@/" in admin_url:
        database_url = database_url_for(admin_url, name)
    else:
        parts = urlsplit(admin_url)
        database_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
        admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    try:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        await migrate(config=tortoise_config(database_url, pool_size=2))
        await Tortoise.close_connections()
        yield database_url, redis_url
    finally:
        if embedded is not None:
            embedded.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    app: str, env: dict[str, str], *, workers: int = 1
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `app` (an app factory) under uvicorn, in `workers` processes sharing one port;
    returns the (supervising) process and its port."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--workers",
            str(workers),
        ],
        env={**os.environ, **env},
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app} did not start")


async def insert_post(conn: asyncpg.Connection, author_id: int, post_id: int) -> None:
    """A bare photo post of `author_id` (no media), written straight to the table."""
    await conn.execute(
        "INSERT INTO posts (id, author_id, kind, caption, media_ids, hashtags,"
        " mention_ids, like_count, comment_count, save_count, created_at) VALUES"
        " ($1, $2, 'PHOTO', 'fan me out', '[]', '[]', '[]', 0, 0, 0, now())",
        post_id,
        author_id,
    )


async def read_reply(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 response off a keep-alive connection: (head, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    assert match, head
    return head, await reader.readexactly(int(match.group(1)))


async def http_worker(
    host: str,
    port: int,
    bodies: list[bytes],
    deadline: float,
    latencies: list[float],
    start: int = 0,
) -> None:
    """A minimal keep-alive HTTP/1.1 client: the load generator must not be the bottleneck
    (httpx at 32 concurrent requests costs more CPU than the server it measures)."""
    reader, writer = await asyncio.open_connection(host, port)
    i = start
    try:
        while time.perf_counter() < deadline:
            body = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            writer.write(body)
            await writer.drain()
            head, _ = await read_reply(reader)
            assert head.startswith(b"HTTP/1.1 200"), head
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def request_bodies(port: int, query: str, tokens: list[str]) -> list[bytes]:
    """Ready HTTP requests of `query`, one per token."""
    payload = json.dumps({"query": query, "variables": {}}).encode()
    return [
        (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
            f"\r\nAuthorization: Bearer {token}\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        + payload
        for token in tokens
    ]


async def load(port: int, bodies: list[bytes], *, seconds: float, concurrency: int) -> list[float]:
    """`seconds` of `concurrency` keep-alive clients; each request's latency in ms."""
    latencies: list[float] = []
    await run_load(port, bodies, seconds, concurrency, latencies)
    return [s * 1000 for s in latencies]


async def run_load(
    port: int, bodies: list[bytes], seconds: float, concurrency: int, latencies: list[float]
) -> float:
    """`seconds` of `concurrency` keep-alive clients, each request's latency (in seconds)
    added to `latencies`; returns the time taken."""
    started = time.perf_counter()
    await asyncio.gather(
        *[
            http_worker(
                "127.0.0.1",
                port,
                bodies,
                started + seconds,
                latencies,
                start=w * len(bodies) // concurrency,
            )
            for w in range(concurrency)
        ]
    )
    return time.perf_counter() - started


USER_COLUMNS = [
    "id", "username", "email", "password_hash", "full_name", "bio", "is_private",
    "follower_count", "following_count", "post_count", "created_at", "updated_at", "status",
    "token_epoch", "is_moderator",
]  # fmt: skip


POST_COLUMNS = [
    "id", "author_id", "kind", "caption", "media_ids", "hashtags", "mention_ids", "like_count",
    "comment_count", "save_count", "view_count", "play_count", "created_at", "edited_at", "hidden",
]  # fmt: skip


def user_record(user_id: int, username: str, now: Any) -> tuple[Any, ...]:
    """An active public account with no counts, in USER_COLUMNS order (for COPY)."""
    return (user_id, username, f"{username}@bench.test", "x", "", "", False, 0, 0, 0, now, now,
            "ACTIVE", 0, False)  # fmt: skip
