"""The Redis layer: a stalled Redis gives the read path a clear error within its timeout and
the process recovers when Redis answers again; and every URL form means the same server, the
same database and the same credentials to every client (redis-py, arq, aiocache, the
pipelined reads)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from arq import create_pool
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.outages import is_outage
from config.redis_reads import PipelinedReads as Reads
from config.redis_url import RedisAddress
from config.runtime import _cache_for, arq_settings
from config.settings import Settings
from tests.servers import free_port


class Relay:
    """A TCP server on loopback that either accepts and never answers (stalled), or relays
    to a real Redis."""

    def __init__(self, target: RedisAddress) -> None:
        self.target = target
        self.stalled = True
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        up_writer: asyncio.StreamWriter | None = None
        try:
            if self.stalled:
                while await reader.read(65536):
                    pass  # read everything, answer nothing
                return
            up_reader, up_writer = await asyncio.open_connection(self.target.host, self.target.port)

            async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
                dst.close()

            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            if up_writer is not None:
                up_writer.close()
            self.tasks.discard(task)


async def _read(reads: Reads, key: str) -> str | None:
    batch = reads.batch()
    reply = batch.get(key)
    await batch.execute()
    return reply.value


async def _exists(reads: Reads, key: str) -> int:
    batch = reads.batch()
    reply = batch.exists(key)
    await batch.execute()
    return reply.value


async def test_a_stalled_redis_is_a_clear_error_within_the_timeout(settings: Settings) -> None:
    assert settings.redis_url
    target = RedisAddress.from_url(settings.redis_url)
    relay = Relay(target)
    async with relay as port:
        reads = Reads(f"redis://127.0.0.1:{port}/{target.db}", timeout=0.3)
        try:
            # given: a Redis that accepts and never answers
            # when: five requests read at once
            started = time.monotonic()
            results = await asyncio.gather(
                *(_read(reads, "k") for _ in range(5)), return_exceptions=True
            )
            elapsed = time.monotonic() - started
            # then: each gets a clear timeout, all within the timeout (one handshake waited)
            assert all(isinstance(r, RedisTimeoutError) for r in results), results
            assert "within 0.3 s" in str(results[0])
            assert elapsed < 1.0
            # and a connection that stalls after it was made fails its batches in time too
            relay.stalled = False
            assert await _read(reads, "k") is None
            relay.stalled = True
            for task in list(relay.tasks):
                task.cancel()  # the relayed link goes quiet: the next connection stalls
            await asyncio.sleep(0.05)
            started = time.monotonic()
            with pytest.raises(RedisTimeoutError):
                await _read(reads, "k")
            assert time.monotonic() - started < 1.0
            # when: Redis answers again, the next read makes a new connection and succeeds
            relay.stalled = False
            assert await _exists(reads, "k") == 0
        finally:
            await reads.close()


async def test_an_idle_connection_is_checked_before_use(settings: Settings) -> None:
    assert settings.redis_url
    target = RedisAddress.from_url(settings.redis_url)
    relay = Relay(target)
    async with relay as port:
        relay.stalled = False
        reads = Reads(
            f"redis://127.0.0.1:{port}/{target.db}", timeout=0.3, health_check_seconds=0.1
        )
        try:
            await reads.batch().execute()
            assert await _exists(reads, "k") == 0
            # the link dies without a word (its relay is cut), and the connection idles
            for task in list(relay.tasks):
                task.cancel()
            await asyncio.sleep(0.2)
            assert await _exists(reads, "k") == 0  # checked, found dead, made anew
        finally:
            await reads.close()


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A Redis of this test's own, on a free port and a unix socket, with an ACL user."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary on this machine")
    folder = tmp_path_factory.mktemp("redis")
    socket_path = folder / "redis.sock"
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - the machine's own redis-server
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(socket_path),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            # the default user off; "shutter" may do anything with its password
            "--user",
            "default",
            "off",
            "--user",
            "shutter",
            "on",
            ">s3cret/pw",
            "~*",
            "&*",
            "+@all",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if socket_path.exists():
                break
            time.sleep(0.05)
        yield port, socket_path
    finally:
        process.terminate()
        process.wait(10)


def _forms(port: int, socket_path: Path) -> list[str]:
    return [
        f"redis://shutter:s3cret%2Fpw@127.0.0.1:{port}/3",
        f"redis://shutter:s3cret%2Fpw@127.0.0.1:{port}?db=3",
        f"unix://shutter:s3cret%2Fpw@{socket_path}?db=3",
    ]


@contextlib.asynccontextmanager
async def _truth(port: int) -> AsyncIterator[Redis]:
    redis = Redis(host="127.0.0.1", port=port, db=3, username="shutter", password="s3cret/pw")
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.mark.parametrize("form", range(3))
async def test_every_url_form_reaches_the_same_database_in_every_client(
    private_redis: tuple[int, Path], form: int
) -> None:
    port, socket_path = private_redis
    url = _forms(port, socket_path)[form]
    async with _truth(port) as truth:
        await truth.set("probe", f"form {form}")
        # redis-py
        client = Redis.from_url(url, decode_responses=True)
        try:
            assert await client.get("probe") == f"form {form}"
        finally:
            await client.aclose()
        # arq
        queue = await create_pool(arq_settings(url))
        try:
            assert await queue.get("probe") == f"form {form}".encode()
        finally:
            await queue.aclose()
        # aiocache (its keys under the namespace the runtime gives it)
        cache = _cache_for(url, timeout=None)
        try:
            await cache.set("k", {"form": form})
            assert await truth.exists(cache.build_key("k")) == 1
            assert await cache.get("k") == {"form": form}
        finally:
            await cache.client.aclose()
        # the pipelined reads
        reads = Reads(url)
        try:
            assert await _read(reads, "probe") == f"form {form}"
        finally:
            await reads.close()


def test_tls_urls_are_read_alike() -> None:
    address = RedisAddress.from_url("rediss://me:pw@cache.example:6380/2?ssl_cert_reqs=none")
    assert address == RedisAddress(
        host="cache.example",
        port=6380,
        unix_path=None,
        db=2,
        username="me",
        password="pw",
        tls=True,
        verify_tls=False,
    )
    settings = arq_settings("rediss://me:pw@cache.example:6380/2?ssl_cert_reqs=none")
    assert (settings.ssl, settings.ssl_cert_reqs, settings.username, settings.database) == (
        True,
        "none",
        "me",
        2,
    )


async def test_a_connection_torn_down_under_a_command_is_an_outage() -> None:
    """A node that dies under concurrent commands: redis-py's connection, disconnected by one
    command while another writes on it, fails from inside with an AttributeError; that is an
    outage (UNAVAILABLE, retried), a bug of ours is not."""
    connection = Connection(host="127.0.0.1", port=1)
    with pytest.raises(AttributeError) as raised:
        await connection._send_packed_command([b"PING"])
    assert is_outage(raised.value)
    assert not is_outage(AttributeError("'NoneType' object has no attribute 'writelines'"))
