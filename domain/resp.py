"""Batched reads straight over RESP, for the hot read path (a feed page, cached rows).

redis-py spends most of a pipeline's time in Python around each command (building it, its
response callbacks, connection bookkeeping): about 14 µs of CPU per command of a feed page's
pipelines on the benchmark machine, against 3.5 µs for the same commands packed and parsed by
hiredis in C here (the README's performance section has the figures). Everything else (writes,
scripts, pub/sub, arq) stays on redis-py.

`Reads.batch()` gives a `ReadBatch`: it queues the few commands the read path uses, under
redis-py's names and with redis-py's reply shapes (decoded strings, HGETALL as a dict,
WITHSCORES as (member, score) pairs), and sends them in one round trip.

Every batch of the process goes over one pipelined connection: the batches queued in one turn
of the event loop (the requests that arrived together) go out in one write and come back in
one read, as ioredis's auto-pipelining does. On loopback TCP a write and a read together cost
about 30 µs of CPU on the benchmark machine, in the API process and again in Redis; sharing
them is most of what a page's Redis round trips cost. A connection found broken is replaced
and the batches on it sent again once (they hold reads and EXPIREs, which may run twice).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

Convert = Callable[[Any], Any] | None

CLIENT_NAME = "shutter-reads"  # as CLIENT LIST shows the connection


def _pairs(flat: list[Any]) -> dict[Any, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _bools(flags: list[int]) -> list[bool]:
    return [bool(flag) for flag in flags]


def _scored(flat: list[Any]) -> list[tuple[Any, float]]:
    return [(member, float(score)) for member, score in zip(flat[::2], flat[1::2], strict=True)]


def _limit(start: int | None, num: int | None) -> tuple[Any, ...]:
    return () if start is None or num is None else ("LIMIT", start, num)


class ReadBatch:
    def __init__(self, reads: Reads) -> None:
        self._reads = reads
        self._commands: list[tuple[Any, ...]] = []
        self._converts: list[Convert] = []

    async def __aenter__(self) -> ReadBatch:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def _queue(self, convert: Convert, *command: Any) -> None:
        self._commands.append(command)
        self._converts.append(convert)

    def get(self, key: str) -> None:
        self._queue(None, "GET", key)

    def mget(self, keys: Sequence[str]) -> None:
        self._queue(None, "MGET", *keys)

    def exists(self, *keys: str) -> None:
        self._queue(None, "EXISTS", *keys)

    def expire(self, key: str, seconds: int) -> None:
        self._queue(bool, "EXPIRE", key, seconds)

    def hgetall(self, key: str) -> None:
        self._queue(_pairs, "HGETALL", key)

    def smismember(self, key: str, members: Sequence[Any]) -> None:
        self._queue(_bools, "SMISMEMBER", key, *members)

    def zrevrangebylex(
        self, key: str, max: str, min: str, start: int | None = None, num: int | None = None
    ) -> None:
        self._queue(None, "ZREVRANGEBYLEX", key, max, min, *_limit(start, num))

    def zrevrangebyscore(
        self,
        key: str,
        max: str | float,
        min: str | float,
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
    ) -> None:
        scores = ("WITHSCORES",) if withscores else ()
        self._queue(
            _scored if withscores else None,
            "ZREVRANGEBYSCORE",
            key,
            max,
            min,
            *scores,
            *_limit(start, num),
        )

    async def execute(self) -> list[Any]:
        """Every reply, in order, converted as redis-py would; raises the first error reply
        (redis.exceptions.ResponseError) once all are read."""
        if not self._commands:
            return []
        replies = await self._reads.run(self._commands)
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise reply
        return [
            reply if convert is None or reply is None else convert(reply)
            for reply, convert in zip(replies, self._converts, strict=True)
        ]


class _Batch:
    __slots__ = ("count", "future", "replies")

    def __init__(self, future: asyncio.Future[list[Any]], count: int) -> None:
        self.future = future
        self.count = count
        self.replies: list[Any] = []


class _Pipeline(asyncio.Protocol):
    """One connection carrying every batch of the process, in order: the batches queued in one
    turn of the event loop go out in one write, and each reply goes to the batch whose it is
    as it is parsed. A batch whose caller has gone (cancelled) still has its replies read,
    and dropped, so every later batch reads its own."""

    def __init__(self) -> None:
        self.parser = hiredis.Reader(encoding="utf-8", replyError=ResponseError)
        self.transport: asyncio.Transport | None = None
        self.outgoing: list[bytes] = []
        self.waiting: deque[_Batch] = deque()
        self.broken: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, commands: Sequence[tuple[Any, ...]]) -> asyncio.Future[list[Any]]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if self.broken is not None:
            future.set_exception(RedisConnectionError(str(self.broken)))
            return future
        if not self.outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self.outgoing.extend(hiredis.pack_command(command) for command in commands)
        self.waiting.append(_Batch(future, len(commands)))
        return future

    def _flush(self) -> None:
        outgoing, self.outgoing = self.outgoing, []
        if self.broken is None and self.transport is not None:
            self.transport.write(b"".join(outgoing))

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        parser.feed(data)
        waiting = self.waiting
        while (reply := parser.gets()) is not False:
            if not waiting:
                self._fail(RedisConnectionError("Redis sent a reply nobody asked for."))
                return
            batch = waiting[0]
            batch.replies.append(reply)
            if len(batch.replies) == batch.count:
                waiting.popleft()
                if not batch.future.done():
                    batch.future.set_result(batch.replies)

    def connection_lost(self, error: Exception | None) -> None:
        self._fail(error or RedisConnectionError("Redis closed the connection."))

    def _fail(self, error: Exception) -> None:
        if self.broken is None:
            self.broken = error
        waiting, self.waiting = self.waiting, deque()
        for batch in waiting:
            if not batch.future.done():
                batch.future.set_exception(RedisConnectionError(f"Redis connection lost: {error}"))
        self.close()

    def close(self) -> None:
        if self.broken is None:
            self.broken = RedisConnectionError("The connection was closed.")
        if self.transport is not None:
            self.transport.close()


class Reads:
    """Plain RESP reads from the Redis of `url` (redis://, rediss:// or unix://, with the
    user, password and database redis-py would take from it), on one pipelined connection."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self._scheme = parts.scheme
        self._host = parts.hostname or "localhost"
        self._port = parts.port or 6379
        self._path = unquote(parts.path)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        if parts.scheme == "unix":
            self._db = int(query.get("db", ["0"])[0])
        else:
            self._db = int(self._path.strip("/") or query.get("db", ["0"])[0])
        self._verify = query.get("ssl_cert_reqs", ["required"])[0] != "none"
        self._pipeline: _Pipeline | None = None
        self._connecting: asyncio.Future[_Pipeline] | None = None

    def batch(self) -> ReadBatch:
        return ReadBatch(self)

    async def run(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        for attempt in (1, 2):
            pipeline = self._pipeline
            fresh = pipeline is None or pipeline.broken is not None
            if fresh:
                pipeline = await self._connected()
            assert pipeline is not None
            try:
                return await pipeline.send(commands)
            except RedisConnectionError:
                if attempt == 1 and not fresh:
                    continue  # it broke while open (a Redis restart): once more, on a new one
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connected(self) -> _Pipeline:
        """The open connection, made by one caller while the others wait for it."""
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            pipeline = await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None
        self._pipeline = pipeline
        return pipeline

    async def _connect(self) -> _Pipeline:
        loop = asyncio.get_running_loop()
        try:
            if self._scheme == "unix":
                _, pipeline = await loop.create_unix_connection(_Pipeline, self._path)
            else:
                context = None
                if self._scheme == "rediss":
                    context = ssl.create_default_context()
                    if not self._verify:
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                _, pipeline = await loop.create_connection(
                    _Pipeline, self._host, self._port, ssl=context
                )
        except OSError as error:
            raise RedisConnectionError(f"Cannot reach Redis: {error}") from error
        setup: list[tuple[Any, ...]] = []
        if self._password is not None:
            user = (self._username,) if self._username else ()
            setup.append(("AUTH", *user, self._password))
        if self._db:
            setup.append(("SELECT", self._db))
        setup.append(("CLIENT", "SETNAME", CLIENT_NAME))
        try:
            replies = await pipeline.send(setup)
        except BaseException:
            pipeline.close()
            raise
        for reply in replies:
            if isinstance(reply, ResponseError):
                pipeline.close()
                raise reply
        return pipeline

    async def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None
