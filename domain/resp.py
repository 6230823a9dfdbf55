"""Batched reads straight over RESP, for the hot read path (a feed page, cached rows).

redis-py spends most of a pipeline's time in Python around each command (building it, its
response callbacks, connection bookkeeping): about 14 µs of CPU per command of a feed page's
pipelines on the benchmark machine, against 3.5 µs for the same commands packed and parsed by
hiredis in C here (the README's performance section has the figures). Everything else (writes,
scripts, pub/sub, arq) stays on redis-py.

`Reads.batch()` gives a `ReadBatch`: it queues the few commands the read path uses, under
redis-py's names and with redis-py's reply shapes (decoded strings, HGETALL as a dict,
WITHSCORES as (member, score) pairs), and sends them in one round trip on a pooled connection.
A connection found broken is replaced and the batch sent again once (the batches hold reads
and EXPIREs, which may run twice); a batch cut off halfway (cancelled, or an error) closes its
connection, never returns it to the pool half-read.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

IDLE_CONNECTIONS = 64  # kept open per process; more may be open while busy

Convert = Callable[[Any], Any] | None


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


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = hiredis.Reader(encoding="utf-8", replyError=ResponseError)

    async def run(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        self.writer.write(b"".join(hiredis.pack_command(command) for command in commands))
        replies: list[Any] = []
        while len(replies) < len(commands):
            reply = self.parser.gets()
            if reply is False:
                data = await self.reader.read(65536)
                if not data:
                    raise RedisConnectionError("Redis closed the connection.")
                self.parser.feed(data)
            else:
                replies.append(reply)
        return replies

    def close(self) -> None:
        self.writer.close()


class Reads:
    """A pool of plain RESP connections to the Redis of `url` (redis://, rediss:// or
    unix://, with the user, password and database redis-py would take from it)."""

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
        self._idle: list[_Connection] = []

    def batch(self) -> ReadBatch:
        return ReadBatch(self)

    async def run(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        for attempt in (1, 2):
            reused = bool(self._idle)
            connection = self._idle.pop() if reused else await self._connect()
            try:
                replies = await connection.run(commands)
            except (OSError, RedisConnectionError):
                connection.close()
                if attempt == 1 and reused:
                    continue  # it broke while idle (a Redis restart): once more, on a new one
                raise
            except BaseException:
                connection.close()  # cut off halfway: its replies would be the next caller's
                raise
            if len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(connection)
            else:
                connection.close()
            return replies
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> _Connection:
        try:
            if self._scheme == "unix":
                reader, writer = await asyncio.open_unix_connection(self._path)
            else:
                context = None
                if self._scheme == "rediss":
                    context = ssl.create_default_context()
                    if not self._verify:
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                reader, writer = await asyncio.open_connection(self._host, self._port, ssl=context)
        except OSError as error:
            raise RedisConnectionError(f"Cannot reach Redis: {error}") from error
        connection = _Connection(reader, writer)
        setup: list[tuple[Any, ...]] = []
        if self._password is not None:
            user = (self._username,) if self._username else ()
            setup.append(("AUTH", *user, self._password))
        if self._db:
            setup.append(("SELECT", self._db))
        if setup:
            try:
                replies = await connection.run(setup)
            except BaseException:
                connection.close()
                raise
            for reply in replies:
                if isinstance(reply, ResponseError):
                    connection.close()
                    raise reply
        return connection

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
