"""Faults on real servers: a Redis of the test's own is killed, restarted and frozen under a
real worker process and a real API process (never the machine's own Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from arq import create_pool
from arq.jobs import Job, JobStatus
from redis.asyncio import Redis

from config.embedded import ensure_database
from config.redis_reads import PipelinedReads
from config.runtime import Runtime, arq_settings
from config.settings import PROJECT_ROOT, Settings
from domain.feed.models import Fanout
from domain.feed.store import BASE, feed_key, floor_key, pad, parse_member
from domain.ids import IdSlot, next_id
from domain.media import flows as media_flows
from domain.media.models import Media, MediaStatus
from domain.notifications.models import Notification
from domain.notifications.service import Event
from domain.ports import Ports
from domain.posts import flows as post_flows
from domain.realtime.events import RedisEvents, media_channel
from domain.users.tokens import create_access_token
from tests import media_files
from tests.conftest import _start_server, _stop, live_env
from tests.factories import make_media, make_user, token_for
from tests.servers import PostgresServer, RedisServer, free_port, wait_for_port
from workers.queues import DEFAULT_QUEUE, FANOUT_QUEUE, MEDIA_QUEUE, ArqJobs
from workers.resilience import ResilientWorker, retried

pytestmark = pytest.mark.faults


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def _worker(
    settings: Settings,
    queue: str,
    *,
    redis_url: str,
    log_name: str,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """`shutter worker --queue <queue>` as an operator runs it, on the stores given; its output
    is appended to .data/<log_name> (kept for reading after a failure)."""
    assert settings.database_url
    with (PROJECT_ROOT / ".data" / log_name).open("ab") as log_file:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "config.cli", "worker", "--queue", queue, *args],
            env={
                **os.environ,
                "ENVIRONMENT": "test",
                "DATABASE_URL": database_url or settings.database_url,
                "REDIS_URL": redis_url,
                "LOG_LEVEL": "INFO",
                **(env or {}),
            },
            cwd=PROJECT_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


async def _eventually(check: Any, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


async def test_a_worker_outlives_a_redis_restart(
    settings: Settings, own_redis: RedisServer
) -> None:
    # given: a worker process serving the default queue on a Redis of our own
    metrics_port = free_port()
    (PROJECT_ROOT / ".data" / "fault-worker.log").unlink(missing_ok=True)
    worker = _worker(
        settings,
        DEFAULT_QUEUE,
        redis_url=own_redis.url,
        log_name="fault-worker.log",
        args=("--metrics-port", str(metrics_port)),
    )
    try:
        wait_for_port(metrics_port, timeout=30)
        await asyncio.sleep(1)  # its poll loop is running

        # when: Redis dies, and comes back empty two seconds later
        own_redis.kill()
        await asyncio.sleep(2)
        own_redis.start()

        # then: the worker is still there, and runs a job queued after the outage
        actor, recipient = await make_user(), await make_user()
        event = Event(kind="FOLLOW", actor_id=actor.id, recipient_id=recipient.id, key="fault:1")
        queue = await create_pool(arq_settings(own_redis.url))
        try:
            await queue.enqueue_job("notify", event.to_job(), _queue_name=DEFAULT_QUEUE)
        finally:
            await queue.aclose()

        async def notified() -> bool:
            return await Notification.filter(user_id=recipient.id).exists()

        assert await _eventually(notified, within=20), PROJECT_ROOT / ".data/fault-worker.log"
        assert worker.poll() is None
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert 'shutter_worker_outages_total{queue="default"} 1.0' in metrics
        assert 'shutter_worker_redis_down{queue="default"} 0.0' in metrics
    finally:
        worker.terminate()
        worker.wait(20)
    log = (PROJECT_ROOT / ".data" / "fault-worker.log").read_text()
    assert log.count("Redis unreachable") == 1  # one line per outage, not one per poll
    assert "Redis is back after" in log


async def test_a_job_that_meets_an_outage_runs_again(settings: Settings) -> None:
    # given: a job whose first try loses its connection
    assert settings.redis_url
    tries: list[int] = []

    async def flaky(ctx: dict[str, Any], value: int) -> int:
        tries.append(ctx["job_try"])
        if len(tries) == 1:
            raise ConnectionResetError("Connection reset by peer")
        return value * 2

    flaky.__qualname__ = "flaky"
    queue_name = f"test-retry-{os.getpid()}-{time.monotonic_ns()}"
    pool = await create_pool(arq_settings(settings.redis_url))
    try:
        job = await pool.enqueue_job("flaky", 21, _queue_name=queue_name)
        assert job is not None
        worker = ResilientWorker(
            functions=[retried(flaky)],
            redis_settings=arq_settings(settings.redis_url),
            queue_name=queue_name,
            burst=True,
            poll_delay=0,
            max_tries=3,
            handle_signals=False,
        )
        try:
            # when
            await worker.main()
        finally:
            await worker.close()

        # then: it was tried again, after a pause, and succeeded
        assert tries == [1, 2]
        assert await Job(job.job_id, pool, _queue_name=queue_name).status() == JobStatus.complete
        assert await job.result(timeout=1) == 42
    finally:
        await pool.aclose()


async def test_requests_during_a_redis_freeze_are_unavailable_within_the_timeout(
    settings: Settings, own_redis: RedisServer
) -> None:
    # given: an API process on a Redis of our own, with a 500 ms bound on Redis calls
    port = free_port()
    env = {**live_env(settings), "REDIS_URL": own_redis.url, "REDIS_TIMEOUT_MS": "500"}
    server = _start_server(port, env, "fault-api.log")
    user = await make_user()
    headers = {"authorization": f"Bearer {token_for(user, settings)}"}
    viewer = {"query": "{ viewer { username } }"}
    like = {"query": 'mutation { likePost(input: {postId: "UG9zdDox"}) { errors { code } } }'}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert (await http.post("/graphql", json=viewer, headers=headers)).status_code == 200

            # when: Redis stops answering
            own_redis.freeze()
            answers = []
            for body in (viewer, like):
                started = time.monotonic()
                response = await http.post("/graphql", json=body, headers=headers)
                answers.append((response, time.monotonic() - started))
            own_redis.thaw()

            # then: each request ends within about the bound, as a typed, retryable outage
            for response, elapsed in answers:
                assert elapsed < 2.0, elapsed
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "1"
                (error,) = response.json()["errors"]
                assert error["extensions"] == {"code": "UNAVAILABLE", "retryable": True}
                assert "Unexpected" not in error["message"]

            # and once Redis answers again, so does the API
            again = await http.post("/graphql", json=viewer, headers=headers)
            assert again.status_code == 200
            assert again.json()["data"] == {"viewer": {"username": user.username}}
    finally:
        own_redis.thaw()
        _stop(server)


async def test_requests_waiting_their_turn_behind_a_frozen_redis_end_within_the_timeout(
    settings: Settings, own_redis: RedisServer
) -> None:
    # given: an API process that runs one request at a time, with a 500 ms bound on Redis calls
    port = free_port()
    env = {
        **live_env(settings),
        "REDIS_URL": own_redis.url,
        "REDIS_TIMEOUT_MS": "500",
        "MAX_RUNNING": "1",
    }
    server = _start_server(port, env, "fault-turns.log")
    user = await make_user()
    headers = {"authorization": f"Bearer {token_for(user, settings)}"}
    viewer = {"query": "{ viewer { username } }"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert (await http.post("/graphql", json=viewer, headers=headers)).status_code == 200

            # when: Redis stops answering, and eight requests arrive together
            own_redis.freeze()
            started = time.monotonic()
            answers = await asyncio.gather(
                *(http.post("/graphql", json=viewer, headers=headers) for _ in range(8))
            )
            elapsed = time.monotonic() - started
            own_redis.thaw()

            # then: the one running and those waiting for its turn all end within about the
            # bound (not one bound after another), each a typed, retryable outage
            assert elapsed < 2.0, elapsed
            for response in answers:
                assert response.status_code == 503, response.text
                (error,) = response.json()["errors"]
                assert error["extensions"] == {"code": "UNAVAILABLE", "retryable": True}
            assert (await http.post("/graphql", json=viewer, headers=headers)).status_code == 200
    finally:
        own_redis.thaw()
        _stop(server)


def _serve(port: int, env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    with output.open("wb") as log_file:
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "config.cli", "serve", "--port", str(port)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def _children(parent: int, pattern: str) -> list[int]:
    found = subprocess.run(  # noqa: S603 - procps's pgrep
        ["pgrep", "-P", str(parent), "-f", pattern],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return [int(pid) for pid in found.stdout.split()]


async def test_serve_restarts_a_worker_that_dies(
    settings: Settings, own_redis: RedisServer, tmp_path: Path
) -> None:
    # given: `shutter serve` on a database and a Redis of this test's own
    assert settings.database_url
    await ensure_database(settings.database_url, "shutter_serve_faults")
    database_url = urlunsplit(
        urlsplit(settings.database_url)._replace(path="/shutter_serve_faults")
    )
    port = free_port()
    output = tmp_path / "serve.log"
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": own_redis.url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOG_LEVEL": "WARNING",
    }
    serve = _serve(port, env, output)
    try:

        async def up() -> bool:
            return "Shutter is up" in output.read_text()

        assert await _eventually(up, within=120), output.read_text()
        (first,) = _children(serve.pid, "worker --queue fanout")

        # when: the fan-out worker is killed
        os.kill(first, signal.SIGKILL)

        # then: serve says so and starts another
        async def replaced() -> bool:
            return _children(serve.pid, "worker --queue fanout") not in ([], [first])

        assert await _eventually(replaced, within=15), output.read_text()
        text = output.read_text()
        assert "worker fanout exited (signal 9)" in text
        assert "worker fanout restarted" in text
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
    assert _children(serve.pid, "config.cli worker") == []  # none left behind


async def test_ids_never_collide_across_a_redis_restart(
    settings: Settings, own_redis: RedisServer
) -> None:
    # given: an API process, then a Redis restart (it comes back empty), then a second process
    env = {**live_env(settings), "REDIS_URL": own_redis.url}
    first_port, second_port = free_port(), free_port()
    first = _start_server(first_port, env, "fault-ids-1.log")
    own_redis.kill()
    own_redis.start()
    second = _start_server(second_port, env, "fault-ids-2.log")
    try:
        # when: both make rows at once
        async def register(port: int, i: int) -> str:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                name = f"ids{port}x{i}"
                response = await http.post(
                    "/graphql",
                    json={
                        "query": "mutation ($u: String!, $e: String!) { register(input: "
                        '{username: $u, email: $e, password: "correct horse battery"}) '
                        "{ user { id } errors { code } } }",
                        "variables": {"u": name, "e": f"{name}@example.test"},
                    },
                )
            payload = response.json()["data"]["register"]
            assert payload["errors"] == [], payload
            return str(payload["user"]["id"])

        made = await asyncio.gather(
            *(register(port, i) for i in range(8) for port in (first_port, second_port))
        )

        # then: every row is made, and the two processes hold different slots of their own
        assert len(set(made)) == len(made) == 16
        slots = {}
        for process in (first, second):
            rows = await IdSlot.filter(holder__contains=f":{process.pid}:").values_list(
                "slot", flat=True
            )
            (slots[process.pid],) = rows
        assert slots[first.pid] != slots[second.pid]
    finally:
        _stop(first)
        _stop(second)
    # a process that stops gives its slot back
    assert not await IdSlot.filter(holder__contains=f":{first.pid}:").exists()


def _running(pid: int) -> bool:
    """Alive, not a zombie waiting for a parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_media_worker_killed_mid_transcode_leaves_nothing_behind(
    settings: Settings, runtime: Runtime, own_redis: RedisServer, tmp_path: Path
) -> None:
    # given: a media worker of our own transcoding a video uploaded through the flow
    data_dir = tmp_path / "data"
    redis = Redis.from_url(own_redis.url, decode_responses=True)
    queue = await create_pool(arq_settings(own_redis.url))
    ports = Ports(jobs=ArqJobs(queue), events=RedisEvents(redis))
    owner = await make_user()
    clip = media_files.clip(tmp_path / "clip.mp4", width=1280, height=720, seconds=8, codec="mpeg4")
    worker = _worker(
        settings,
        MEDIA_QUEUE,
        redis_url=own_redis.url,
        log_name="fault-media-worker.log",
        env={"MEDIA_ROOT": str(settings.media_root), "DATA_DIR": str(data_dir)},
    )
    try:
        media = await media_flows.upload(
            owner_id=owner.id,
            data=clip.read_bytes(),
            declared_type="video/mp4",
            store=runtime.store,
            ports=ports,
        )

        async def transcoding() -> bool:
            return bool(_children(worker.pid, "domain.media.video"))

        assert await _eventually(transcoding, within=60)
        (encoder,) = _children(worker.pid, "domain.media.video")
        work_dir = data_dir / "media-work" / str(worker.pid)
        assert any(work_dir.iterdir())  # its temporary files

        # when: the worker is killed
        worker.kill()
        worker.wait(10)

        # then: the encoder dies with it, and the row says PROCESSING with a stale heartbeat
        async def encoder_gone() -> bool:
            return not _running(encoder)

        assert await _eventually(encoder_gone, within=5)
        row = await Media.get(id=media.id)
        assert row.status is MediaStatus.PROCESSING
        assert row.heartbeat_at is not None

        # when: the sweep looks a minute later, and a new worker starts
        events = redis.pubsub()
        await events.subscribe(media_channel(media.id))
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert (
            await media_flows.sweep(
                store=runtime.store, media_store=runtime.media, ports=ports, now=later
            )
            == 1
        )
        worker = _worker(
            settings,
            MEDIA_QUEUE,
            redis_url=own_redis.url,
            log_name="fault-media-worker.log",
            env={"MEDIA_ROOT": str(settings.media_root), "DATA_DIR": str(data_dir)},
        )

        # then: the dead worker's files are gone, and the media ends READY, said to subscribers
        async def ready() -> bool:
            return (await Media.get(id=media.id)).status is MediaStatus.READY

        assert await _eventually(ready, within=90)
        assert not work_dir.exists()
        heard: list[str] = []
        deadline = time.monotonic() + 5
        while "READY" not in heard and time.monotonic() < deadline:
            message = await events.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                heard.append(json.loads(message["data"])["status"])
        assert heard == ["PROCESSING", "READY"]
        await events.aclose()
    finally:
        worker.kill()
        worker.wait(10)
        await queue.aclose()
        await redis.aclose()


FOLLOWERS = 50_000


async def test_a_fanout_killed_midway_reaches_every_follower_once(
    settings: Settings, runtime: Runtime, own_redis: RedisServer
) -> None:
    # given: an author with 50,000 followers, each with a feed on a Redis of our own
    assert settings.database_url
    author = await make_user()
    follower_ids = [next_id() for _ in range(FOLLOWERS)]
    now = datetime.now(UTC)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.copy_records_to_table(
            "users",
            records=[
                (uid, f"f{uid}", f"f{uid}@fan.test", "x", "", "", False, 0, 0, 0, now, now)
                for uid in follower_ids
            ],
            columns=[
                "id",
                "username",
                "email",
                "password_hash",
                "full_name",
                "bio",
                "is_private",
                "follower_count",
                "following_count",
                "post_count",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "follows",
            records=[(next_id(), uid, author.id, "ACTIVE", now) for uid in follower_ids],
            columns=["id", "follower_id", "followee_id", "status", "created_at"],
        )
        await conn.execute(
            "UPDATE users SET follower_count = $2 WHERE id = $1", author.id, FOLLOWERS
        )
    finally:
        await conn.close()
    redis = Redis.from_url(own_redis.url, decode_responses=True)
    reads = PipelinedReads(own_redis.url)
    for i in range(0, FOLLOWERS, 10_000):
        async with redis.pipeline(transaction=False) as pipe:
            for uid in follower_ids[i : i + 10_000]:
                pipe.zadd(feed_key(uid), {BASE: 0})
                pipe.set(floor_key(uid), pad(0), ex=3_600)
            await pipe.execute()
    queue = await create_pool(arq_settings(own_redis.url))
    ports = Ports(jobs=ArqJobs(queue), events=RedisEvents(redis))
    worker = _worker(
        settings,
        FANOUT_QUEUE,
        redis_url=own_redis.url,
        log_name="fault-fanout-worker.log",
        env={"FANOUT_MAX_FOLLOWERS": "100000"},
    )
    try:
        # when: a post's fan-out is under way, Redis stalls it, and its worker is killed
        media = await make_media(author)
        post_id = await post_flows.create_post(
            author_id=author.id,
            media_ids=[media.id],
            caption="to all",
            stores=runtime.post_stores,
            ports=ports,
        )
        deadline = time.monotonic() + 60
        while not await Fanout.filter(post_id=post_id, after_follow_id__gt=0).exists():
            assert time.monotonic() < deadline, "the fan-out never started"
            await asyncio.sleep(0.002)
        own_redis.freeze()
        worker.kill()
        worker.wait(10)
        own_redis.thaw()
        stopped = await Fanout.get(post_id=post_id)
        assert stopped.done_at is None  # it died midway
        assert stopped.after_follow_id > 0

        # then: a new worker's sweep finds it stalled and finishes it, from where it stopped
        worker = _worker(
            settings,
            FANOUT_QUEUE,
            redis_url=own_redis.url,
            log_name="fault-fanout-worker.log",
            env={"FANOUT_MAX_FOLLOWERS": "100000"},
        )

        async def done() -> bool:
            return await Fanout.filter(post_id=post_id, done_at__isnull=False).exists()

        assert await _eventually(done, within=60)
        finished = await Fanout.get(post_id=post_id)
        assert finished.attempts == 1
        holding = 0
        for i in range(0, FOLLOWERS, 5_000):
            async with redis.pipeline(transaction=False) as pipe:
                for uid in follower_ids[i : i + 5_000]:
                    pipe.zrange(feed_key(uid), 0, -1)
                for members in await pipe.execute():
                    entries = [m for m in members if m != BASE]
                    assert len(entries) == 1  # exactly once
                    holding += parse_member(entries[0])[0] == post_id
        assert holding == FOLLOWERS
    finally:
        worker.kill()
        worker.wait(10)
        await queue.aclose()
        await reads.close()
        await redis.aclose()


async def test_an_overloaded_process_sheds_requests_with_a_clear_503(settings: Settings) -> None:
    # given: an API process that serves one GraphQL request at a time
    port = free_port()
    server = _start_server(port, {**live_env(settings), "MAX_IN_FLIGHT": "1"}, "fault-shed.log")
    user = await make_user()
    headers = {"authorization": f"Bearer {token_for(user, settings)}"}
    body = {"query": "{ viewer { username followers(first: 5) { edges { node { id } } } } }"}
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=10,
            limits=httpx.Limits(max_connections=64),
        ) as http:
            # when: 64 requests arrive at once
            answers = await asyncio.gather(
                *(http.post("/graphql", json=body, headers=headers) for _ in range(64))
            )
            # then: each is answered: served, or shed at once with a clear, retryable 503
            served = [a for a in answers if a.status_code == 200]
            shed = [a for a in answers if a.status_code == 503]
            assert len(served) + len(shed) == 64
            assert served
            assert shed
            for answer in shed:
                assert answer.headers["retry-after"] == "1"
                (error,) = answer.json()["errors"]
                assert error["extensions"] == {"code": "UNAVAILABLE", "retryable": True}
            # and health checks are never shed
            assert (await http.get("/healthz")).status_code == 200
    finally:
        _stop(server)


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.remove()


async def test_postgres_down_warm_feeds_still_read_and_a_job_waits_for_it(
    settings: Settings, own_postgres: PostgresServer, own_redis: RedisServer
) -> None:
    # given: the API and a worker on a Postgres and a Redis of our own; b follows a, who posted
    env = {**live_env(settings), "DATABASE_URL": own_postgres.url, "REDIS_URL": own_redis.url}
    migrate = subprocess.run(  # noqa: ASYNC221 - our own CLI, once
        [sys.executable, "-m", "config.cli", "migrate"],
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    a, b, post_id = next_id(), next_id(), next_id()
    conn = await asyncpg.connect(own_postgres.url)
    try:
        for uid, name in ((a, "pg_a"), (b, "pg_b")):
            await conn.execute(
                "INSERT INTO users (id, username, email, password_hash, full_name, bio,"
                " is_private, follower_count, following_count, post_count, created_at,"
                " updated_at) VALUES ($1, $2, $3, 'x', '', '', false, 0, 0, 0, now(), now())",
                uid,
                name,
                f"{name}@example.test",
            )
        await conn.execute(
            "INSERT INTO follows (id, follower_id, followee_id, status, created_at)"
            " VALUES ($1, $2, $3, 'ACTIVE', now())",
            next_id(),
            b,
            a,
        )
        await conn.execute(
            "INSERT INTO posts (id, author_id, kind, caption, media_ids, hashtags, mention_ids,"
            " like_count, comment_count, save_count, created_at)"
            " VALUES ($1, $2, 'PHOTO', 'still here', '[]', '[]', '[]', 0, 0, 0, now())",
            post_id,
            a,
        )
    finally:
        await conn.close()
    port = free_port()
    server = _start_server(port, env, "fault-pg-api.log")
    (PROJECT_ROOT / ".data" / "fault-pg-worker.log").unlink(missing_ok=True)
    worker = _worker(
        settings,
        DEFAULT_QUEUE,
        redis_url=own_redis.url,
        log_name="fault-pg-worker.log",
        database_url=own_postgres.url,
    )

    async def both_up() -> bool:  # the API and the worker each hold an id slot
        conn = await asyncpg.connect(own_postgres.url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM id_slots")) >= 2
        finally:
            await conn.close()

    assert await _eventually(both_up, within=30)
    token = create_access_token(user_id=b, secret=Settings().jwt_secret, ttl_seconds=600)
    feed = {"query": "{ feed(first: 10) { edges { node { caption } } } }"}
    headers = {"authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(2):  # the first read builds the feed; the second is warm
                warm = await http.post("/graphql", json=feed, headers=headers)
                assert warm.json()["data"]["feed"]["edges"] == [{"node": {"caption": "still here"}}]

            # when: Postgres goes down
            own_postgres.stop()

            # then: the warm feed is still read
            down = await http.post("/graphql", json=feed, headers=headers)
            assert down.status_code == 200, down.text
            assert down.json()["data"]["feed"]["edges"] == [{"node": {"caption": "still here"}}]

        # and a job that needs Postgres waits for it, and runs once it is back
        queue = await create_pool(arq_settings(own_redis.url))
        try:
            event = Event(kind="FOLLOW", actor_id=b, recipient_id=a, key="fault:pg")
            await queue.enqueue_job("notify", event.to_job(), _queue_name=DEFAULT_QUEUE)
            await asyncio.sleep(3)  # it meets the outage and is put back
            own_postgres.start()

            async def notified() -> bool:
                conn = await asyncpg.connect(own_postgres.url)
                try:
                    return bool(
                        await conn.fetchval(
                            "SELECT count(*) FROM notifications WHERE user_id = $1", a
                        )
                    )
                finally:
                    await conn.close()

            assert await _eventually(notified, within=40)
            assert worker.poll() is None
        finally:
            await queue.aclose()
    finally:
        _stop(server)
        worker.terminate()
        worker.wait(20)
    log = (PROJECT_ROOT / ".data" / "fault-pg-worker.log").read_text()
    assert "notify: " in log
    assert "trying again" in log
