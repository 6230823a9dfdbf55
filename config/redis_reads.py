"""Batched reads straight over RESP, for the hot read path (a feed page, cached rows).

redis-py spends most of a pipeline's time in Python around each command (building it, its
response callbacks, connection bookkeeping): about 14 µs of CPU per command of a feed page's
pipelines on the benchmark machine, against 3.5 µs for the same commands packed and parsed by
hiredis in C here (the README's performance section has the figures). Everything else (writes,
scripts, pub/sub, arq) stays on redis-py.

`PipelinedReads` is the domain's `Reads` (domain/reads.py): `batch()` gives a batch that queues
the few commands the read path uses, under redis-py's names and with redis-py's reply shapes,
one `Reply` handle per command, and sends them in one round trip.

Every batch of the process goes over one pipelined connection: the batches queued in one turn
of the event loop (the requests that arrived together) go out in one write and come back in
one read, as ioredis's auto-pipelining does. On loopback TCP a write and a read together cost
about 30 µs of CPU on the benchmark machine, in the API process and again in Redis; sharing
them is most of what a page's Redis round trips cost. A connection found broken is replaced
and the batches on it sent again once (they hold reads and EXPIREs, which may run twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import hiredis
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.redis_url import RedisAddress
from domain.keyspace import reread_slot_map
from domain.reads import Reply

T = TypeVar("T")

CLIENT_NAME = "shutter-reads"  # as CLIENT LIST shows the connection


class Backlogged(RedisTimeoutError):
    """Redis is not taking the bytes sent to it: more batches are refused for now."""


def _pairs(flat: list[Any]) -> dict[Any, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _bools(flags: list[int]) -> list[bool]:
    return [bool(flag) for flag in flags]


def _scored(flat: list[Any]) -> list[tuple[Any, float]]:
    return [(member, float(score)) for member, score in zip(flat[::2], flat[1::2], strict=True)]


def _scores(values: list[Any]) -> list[float | None]:
    return [None if value is None else float(value) for value in values]


def _limit(start: int | None, num: int | None) -> tuple[Any, ...]:
    return () if start is None or num is None else ("LIMIT", start, num)


class _Runs(Protocol):
    async def run(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]: ...


class PipelinedBatch:
    """A domain.reads.ReadBatch on PipelinedReads' connection (or ClusterReads' ones)."""

    __slots__ = ("_commands", "_reads", "_replies")

    def __init__(self, reads: _Runs) -> None:
        self._reads = reads
        self._commands: list[tuple[Any, ...]] = []
        self._replies: list[Reply[Any]] = []

    def _queue(self, reply: Reply[T], *command: Any) -> Reply[T]:
        self._commands.append(command)
        self._replies.append(reply)
        return reply

    def get(self, key: str) -> Reply[str | None]:
        return self._queue(Reply(), "GET", key)

    def mget(self, keys: Sequence[str]) -> Reply[list[str | None]]:
        return self._queue(Reply(), "MGET", *keys)

    def exists(self, *keys: str) -> Reply[int]:
        return self._queue(Reply(), "EXISTS", *keys)

    def expire(self, key: str, seconds: int) -> Reply[bool]:
        return self._queue(Reply(bool), "EXPIRE", key, seconds)

    def hgetall(self, key: str) -> Reply[dict[str, str]]:
        return self._queue(Reply(_pairs), "HGETALL", key)

    def smismember(self, key: str, members: Sequence[Any]) -> Reply[list[bool]]:
        return self._queue(Reply(_bools), "SMISMEMBER", key, *members)

    def smembers(self, key: str) -> Reply[list[str]]:
        return self._queue(Reply(), "SMEMBERS", key)

    def zmscore(self, key: str, members: Sequence[Any]) -> Reply[list[float | None]]:
        return self._queue(Reply(_scores), "ZMSCORE", key, *members)

    def zinter_withscores(self, keys: Sequence[str], weights: Sequence[float]) -> Reply[list[str]]:
        command = ("ZINTER", len(keys), *keys, "WEIGHTS", *weights, "WITHSCORES")
        return self._queue(Reply(), *command)

    def zrangebyscore(self, key: str, min: str | float, max: str | float) -> Reply[list[str]]:
        return self._queue(Reply(), "ZRANGEBYSCORE", key, min, max)

    def zrevrangebylex(
        self, key: str, max: str, min: str, start: int | None = None, num: int | None = None
    ) -> Reply[list[str]]:
        return self._queue(Reply(), "ZREVRANGEBYLEX", key, max, min, *_limit(start, num))

    def zrevrangebyscore(
        self,
        key: str,
        max: str | float,
        min: str | float,
        start: int | None = None,
        num: int | None = None,
    ) -> Reply[list[str]]:
        return self._queue(Reply(), "ZREVRANGEBYSCORE", key, max, min, *_limit(start, num))

    def zrevrangebyscore_withscores(
        self,
        key: str,
        max: str | float,
        min: str | float,
        start: int | None = None,
        num: int | None = None,
    ) -> Reply[list[tuple[str, float]]]:
        command = ("ZREVRANGEBYSCORE", key, max, min, "WITHSCORES", *_limit(start, num))
        return self._queue(Reply(_scored), *command)

    async def execute(self) -> None:
        """Run the batch: every reply resolved, converted as redis-py would; raises the first
        error reply (redis.exceptions.ResponseError) once all are read."""
        if not self._commands:
            return
        replies = await self._reads.run(self._commands)
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise reply
        for handle, reply in zip(self._replies, replies, strict=True):
            handle.resolve(reply)


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

    def __init__(self, max_queued_bytes: int) -> None:
        self.parser = hiredis.Reader(encoding="utf-8", replyError=ResponseError)
        self.transport: asyncio.Transport | None = None
        self.outgoing: list[bytes] = []
        self.outgoing_bytes = 0
        self.max_queued_bytes = max_queued_bytes
        self.waiting: deque[_Batch] = deque()
        self.broken: Exception | None = None
        self.last_heard = asyncio.get_running_loop().time()  # when Redis last answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, commands: Sequence[tuple[Any, ...]]) -> asyncio.Future[list[Any]]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if self.broken is not None:
            future.set_exception(RedisConnectionError(str(self.broken)))
            return future
        unsent = self.transport.get_write_buffer_size() if self.transport else 0
        if self.outgoing_bytes + unsent > self.max_queued_bytes:
            # Redis is not taking what was sent: refuse more rather than grow without bound.
            future.set_exception(
                Backlogged(f"Over {self.max_queued_bytes} bytes wait to be sent to Redis.")
            )
            return future
        if not self.outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        packed = [hiredis.pack_command(command) for command in commands]
        self.outgoing.extend(packed)
        self.outgoing_bytes += sum(len(each) for each in packed)
        self.waiting.append(_Batch(future, len(commands)))
        return future

    def _flush(self) -> None:
        outgoing, self.outgoing = self.outgoing, []
        self.outgoing_bytes = 0
        if self.broken is None and self.transport is not None:
            self.transport.write(b"".join(outgoing))

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        parser.feed(data)
        self.last_heard = asyncio.get_running_loop().time()
        waiting = self.waiting
        while (reply := parser.gets()) is not False:
            if not waiting:
                self.fail(RedisConnectionError("Redis sent a reply nobody asked for."))
                return
            batch = waiting[0]
            batch.replies.append(reply)
            if len(batch.replies) == batch.count:
                waiting.popleft()
                if not batch.future.done():
                    batch.future.set_result(batch.replies)

    def connection_lost(self, error: Exception | None) -> None:
        self.fail(error or RedisConnectionError("Redis closed the connection."))

    def fail(self, error: Exception) -> None:
        """Give up the connection: every waiting batch gets `error` (a timeout as it is, any
        other as a lost connection)."""
        if self.broken is None:
            self.broken = error
        waiting, self.waiting = self.waiting, deque()
        for batch in waiting:
            if not batch.future.done():
                batch.future.set_exception(
                    error
                    if isinstance(error, RedisTimeoutError)
                    else RedisConnectionError(f"Redis connection lost: {error}")
                )
        self.close()

    def close(self) -> None:
        if self.broken is None:
            self.broken = RedisConnectionError("The connection was closed.")
        if self.transport is not None:
            self.transport.close()


class PipelinedReads:
    """Plain RESP reads from the Redis of `url` (read by redis-py's parser: redis://,
    rediss:// or unix://, user, password and database), on one pipelined connection.

    A connect, or a batch's replies, that take longer than `timeout` seconds fail with
    redis.exceptions.TimeoutError, and so does every batch waiting on the same connection:
    it is dropped, and the next batch makes a new one. A connection idle for
    `health_check_seconds` is checked with a PING before it carries a batch (a link dropped
    without a word is found by the PING, not by a request). At most `max_queued_bytes` wait to
    be sent; past that, batches fail at once (`Backlogged`).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        health_check_seconds: float = 30.0,
        max_queued_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._address = RedisAddress.from_url(url)
        self._timeout = timeout
        self._health_check_seconds = health_check_seconds
        self._max_queued_bytes = max_queued_bytes
        self._pipeline: _Pipeline | None = None
        self._connecting: asyncio.Future[_Pipeline] | None = None

    def batch(self) -> PipelinedBatch:
        return PipelinedBatch(self)

    async def run(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        for attempt in (1, 2):
            pipeline = self._pipeline
            fresh = pipeline is None or pipeline.broken is not None
            if not fresh and not await self._healthy(pipeline):  # type: ignore[arg-type]
                fresh = True
            if fresh:
                pipeline = await self._connected()
            assert pipeline is not None
            try:
                return await self._answered(pipeline, commands)
            except RedisConnectionError:
                if attempt == 1 and not fresh:
                    continue  # it broke while open (a Redis restart): once more, on a new one
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _answered(
        self, pipeline: _Pipeline, commands: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        try:
            return await asyncio.wait_for(pipeline.send(commands), self._timeout)
        except TimeoutError:
            error = RedisTimeoutError(f"Redis did not answer within {self._timeout:g} s.")
            pipeline.fail(error)
            raise error from None

    async def _healthy(self, pipeline: _Pipeline) -> bool:
        """Whether a connection idle for long still answers (a PING, within the timeout)."""
        idle = asyncio.get_running_loop().time() - pipeline.last_heard
        if idle < self._health_check_seconds or pipeline.waiting:
            return True
        try:
            await self._answered(pipeline, [("PING",)])
        except (RedisConnectionError, RedisTimeoutError):
            return False
        return True

    async def _connected(self) -> _Pipeline:
        """The open connection, made by one caller while the others wait for it."""
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect_in_time())
        connecting = self._connecting
        try:
            pipeline = await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None
        self._pipeline = pipeline
        return pipeline

    async def _connect_in_time(self) -> _Pipeline:
        try:
            return await asyncio.wait_for(self._connect(), self._timeout)
        except TimeoutError:
            raise RedisTimeoutError(
                f"Redis did not accept a connection within {self._timeout:g} s."
            ) from None

    async def _connect(self) -> _Pipeline:
        loop = asyncio.get_running_loop()
        make = partial(_Pipeline, self._max_queued_bytes)
        address = self._address
        try:
            if address.unix_path is not None:
                _, pipeline = await loop.create_unix_connection(make, address.unix_path)
            else:
                context = None
                if address.tls:
                    context = ssl.create_default_context()
                    if not address.verify_tls:
                        context.check_hostname = False
                        context.verify_mode = ssl.CERT_NONE
                _, pipeline = await loop.create_connection(
                    make, address.host, address.port, ssl=context
                )
        except OSError as error:
            raise RedisConnectionError(f"Cannot reach Redis: {error}") from error
        setup: list[tuple[Any, ...]] = []
        if address.password is not None:
            user = (address.username,) if address.username else ()
            setup.append(("AUTH", *user, address.password))
        if address.db:
            setup.append(("SELECT", address.db))
        setup.append(("CLIENT", "SETNAME", CLIENT_NAME))
        try:
            replies = await pipeline.send(setup)  # the caller bounds the time it takes
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


# Replies that mean "ask again, elsewhere or in a moment": the slot moved (MOVED, ASK), or the
# cluster is between masters (a failover: CLUSTERDOWN, TRYAGAIN).
_REROUTE = ("MOVED ", "ASK ", "CLUSTERDOWN", "TRYAGAIN")
REROUTE_ATTEMPTS = 5
REROUTE_PAUSE_SECONDS = 0.1


class ClusterReads:
    """The pipelined reads over a Redis Cluster: one PipelinedReads per master, each command
    sent to the master of its key's slot, by the slot map redis-py's cluster client keeps
    (`cluster`, the process's RedisCluster). A batch's commands are split by master and the
    masters asked at once; MGET and EXISTS over keys of several slots are asked key by key
    and put back together. A reply saying the slot moved, or a master that cannot be reached
    (a failover), makes it read the slot map again and ask once more, a few times, before the
    error goes to the caller.
    """

    def __init__(self, cluster: Any, url: str, *, timeout: float = 2.0) -> None:
        self._cluster = cluster
        self._address = RedisAddress.from_url(url)
        self._timeout = timeout
        self._nodes: dict[str, PipelinedReads] = {}
        self._refreshing: asyncio.Task[None] | None = None

    def batch(self) -> PipelinedBatch:
        return PipelinedBatch(self)

    def _reads_for(self, host: str, port: int) -> PipelinedReads:
        name = f"{host}:{port}"
        reads = self._nodes.get(name)
        if reads is None:
            address = self._address
            auth = ""
            if address.password is not None:
                auth = f"{quote(address.username or '')}:{quote(address.password)}@"
            scheme = "rediss" if address.tls else "redis"
            query = "" if address.verify_tls or not address.tls else "?ssl_cert_reqs=none"
            reads = PipelinedReads(
                f"{scheme}://{auth}{host}:{port}/0{query}", timeout=self._timeout
            )
            self._nodes[name] = reads
        return reads

    def _route(
        self, commands: Sequence[tuple[Any, ...]]
    ) -> tuple[dict[str, tuple[PipelinedReads, list[tuple[Any, ...]], list[int]]], list[Any]]:
        """Split into per-master commands; `parts` says how to put the replies together: for
        each command, the index of its one reply, or a (kind, indexes) for a split one."""
        slots = self._cluster.nodes_manager
        per_node: dict[str, tuple[PipelinedReads, list[tuple[Any, ...]], list[int]]] = {}
        count = 0

        def send(key: str, command: tuple[Any, ...]) -> int:
            nonlocal count
            node = slots.get_node_from_slot(key_slot(key.encode()))
            entry = per_node.get(node.name)
            if entry is None:
                entry = per_node[node.name] = (self._reads_for(node.host, node.port), [], [])
            entry[1].append(command)
            entry[2].append(count)
            count += 1
            return count - 1

        parts: list[Any] = []
        for command in commands:
            name = command[0]
            if name in ("MGET", "EXISTS") and len(command) > 2:
                one = "GET" if name == "MGET" else "EXISTS"
                parts.append((name, [send(key, (one, key)) for key in command[1:]]))
            else:
                parts.append(send(command[1], command))
        return per_node, parts

    async def run(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        for attempt in range(1, REROUTE_ATTEMPTS + 1):
            per_node, parts = self._route(commands)
            total = sum(len(entry[1]) for entry in per_node.values())
            flat: list[Any] = [None] * total
            try:
                answers = await asyncio.gather(
                    *(reads.run(some) for reads, some, _ in per_node.values())
                )
            except (RedisConnectionError, RedisTimeoutError):
                if attempt == REROUTE_ATTEMPTS:
                    raise
                await self._refresh()  # a master gone: its replica may have taken over
                continue
            for (_, _, positions), replies in zip(per_node.values(), answers, strict=True):
                for position, reply in zip(positions, replies, strict=True):
                    flat[position] = reply
            rerouted = any(
                isinstance(reply, ResponseError) and str(reply).startswith(_REROUTE)
                for reply in flat
            )
            if rerouted and attempt < REROUTE_ATTEMPTS:
                await self._refresh()
                continue
            return [
                flat[part]
                if isinstance(part, int)
                else [flat[i] for i in part[1]]
                if part[0] == "MGET"
                else sum(int(flat[i]) for i in part[1])
                for part in parts
            ]
        raise AssertionError("unreachable")  # pragma: no cover

    async def _refresh(self) -> None:
        """Read the slot map again (one caller does; the others wait for it), after a pause
        that lets a failover finish."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._reinitialize())
        with contextlib.suppress(Exception):  # the next attempt says how it went
            await asyncio.shield(self._refreshing)

    async def _reinitialize(self) -> None:
        await asyncio.sleep(REROUTE_PAUSE_SECONDS)
        await reread_slot_map(self._cluster)

    async def close(self) -> None:
        for reads in self._nodes.values():
            await reads.close()
        self._nodes.clear()
