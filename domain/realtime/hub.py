"""One Redis pub/sub connection per process (per master, on a cluster), multiplexing the channels
of every local subscriber.

Subscribing to a channel that another local subscriber already listens to costs nothing in
Redis; the last local subscriber to leave a channel unsubscribes it. Each subscriber gets a
bounded queue: a subscriber that cannot keep up loses its oldest events, never the process's
memory.

On one Redis, channels are plain pub/sub (SUBSCRIBE), read by redis-py, which re-subscribes
after a Redis restart. On a Redis Cluster they are sharded pub/sub (SSUBSCRIBE): a channel
lives in the slot of its name's hash tag, like a key, and is heard only on the master of that
slot, so the hub keeps one connection per master that holds channels of its subscribers. A
connection lost (its master died and a replica took over) or a channel moved away (`sunsubscribe`
from the server) makes the hub read the slot map again and subscribe everything anew, retrying
until the cluster answers; events published meanwhile are lost, as they are over a Redis
restart (clients read what they missed when they come back).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain.keyspace import reread_slot_map

log = logging.getLogger(__name__)

QUEUE_SIZE = 100
RESUBSCRIBE_PAUSE_SECONDS = 0.5

Deliver = Callable[[str, Any], None]


class Hub:
    def __init__(self, redis: Redis, *, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._channels: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._lock = asyncio.Lock()
        self._transport: _Plain | _Sharded = (
            _Sharded(redis, self._deliver)
            if isinstance(redis, RedisCluster)
            else _Plain(redis, self._deliver)
        )

    @property
    def channels(self) -> set[str]:
        return set(self._channels)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        async with self._lock:
            new = [c for c in channels if c not in self._channels]
            for channel in channels:
                self._channels.setdefault(channel, set()).add(queue)
            try:
                await self._transport.listen(new)
            except BaseException:
                self._leave(channels, queue)
                raise
        try:
            yield queue
        finally:
            async with self._lock:
                gone = self._leave(channels, queue)
                if gone:
                    with contextlib.suppress(RedisError, OSError):
                        await self._transport.unlisten(gone)
                if not self._channels:
                    # Nobody listens: stop reading and give the connections back.
                    await self._transport.stop()

    def _leave(self, channels: tuple[str, ...], queue: asyncio.Queue[dict[str, Any]]) -> list[str]:
        gone = []
        for channel in channels:
            listeners = self._channels.get(channel)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._channels[channel]
                    gone.append(channel)
        return gone

    def _deliver(self, channel: str, data: Any) -> None:
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            return
        for queue in list(self._channels.get(channel, ())):
            if queue.full():
                queue.get_nowait()  # a slow subscriber loses its oldest event
            queue.put_nowait(event)

    async def close(self) -> None:
        async with self._lock:
            self._channels.clear()
            await self._transport.stop()


class _Plain:
    """SUBSCRIBE on one Redis, through redis-py's PubSub."""

    def __init__(self, redis: Redis, deliver: Deliver) -> None:
        self._redis = redis
        self._deliver = deliver
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None

    async def listen(self, channels: list[str]) -> None:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub()
        if channels:
            await self._pubsub.subscribe(*channels)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="realtime-hub")

    async def unlisten(self, channels: list[str]) -> None:
        if self._pubsub is not None:
            await self._pubsub.unsubscribe(*channels)

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except (RedisConnectionError, RedisTimeoutError):
                log.warning("realtime hub lost Redis; reconnecting")
                await asyncio.sleep(0.5)
                continue
            except RuntimeError:  # between the first subscribe call and its reply
                await asyncio.sleep(0.01)
                continue
            if message is not None and message.get("type") == "message":
                self._deliver(message["channel"], message["data"])

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None


class _Link:
    """One connection to one master, carrying the SSUBSCRIBEs of the channels in its slots."""

    def __init__(self, connection: Connection, on_lost: Callable[[], None], deliver: Deliver):
        self.connection = connection
        self.channels: set[str] = set()
        self._on_lost = on_lost
        self._deliver = deliver
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect, once, and start reading."""
        if self.reader is None:
            await self.connection.connect()
            self.reader = asyncio.create_task(self._read(), name="realtime-hub-shard")

    async def _read(self) -> None:
        try:
            while True:
                reply = await self.connection.read_response(timeout=None)
                if not isinstance(reply, list) or len(reply) < 3:
                    continue
                kind, channel = reply[0], reply[1]
                if kind == "smessage":
                    self._deliver(channel, reply[2])
                elif kind == "sunsubscribe" and channel in self.channels:
                    # The server dropped it (its slot moved): find where it lives now.
                    self._on_lost()
                    return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("realtime hub lost a cluster node (%s); resubscribing", error)
            self._on_lost()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        with contextlib.suppress(Exception):
            await self.connection.disconnect()


class _Sharded:
    """SSUBSCRIBE on a Redis Cluster: one link per master (see the module's notes)."""

    def __init__(self, redis: RedisCluster, deliver: Deliver) -> None:
        self._cluster = redis
        self._deliver = deliver
        self._links: dict[str, _Link] = {}
        self._wanted: set[str] = set()
        self._resync: asyncio.Task[None] | None = None

    def _link_for(self, channel: str) -> _Link:
        node = self._cluster.get_node_from_key(channel)
        if node is None:
            raise RedisConnectionError(f"No master serves the slot of {channel} now.")
        link = self._links.get(node.name)
        if link is None:
            kwargs = dict(node.connection_kwargs)
            kwargs.update(host=node.host, port=node.port, socket_timeout=None)
            link = _Link(Connection(**kwargs), self._lost, self._deliver)
            self._links[node.name] = link
        return link

    async def listen(self, channels: list[str]) -> None:
        self._wanted.update(channels)
        if self._resync is not None and not self._resync.done():
            return  # the resubscription under way takes them along
        try:
            await self._subscribe(channels)
        except (RedisError, OSError):
            self._lost()  # subscribed once the cluster answers again

    async def _subscribe(self, channels: list[str]) -> None:
        by_link: dict[int, tuple[_Link, list[str]]] = {}
        for channel in channels:
            link = self._link_for(channel)
            by_link.setdefault(id(link), (link, []))[1].append(channel)
        for link, some in by_link.values():
            await link.open()
            link.channels.update(some)
            await link.connection.send_command("SSUBSCRIBE", *some)

    async def unlisten(self, channels: list[str]) -> None:
        self._wanted.difference_update(channels)
        for link in self._links.values():
            some = [c for c in channels if c in link.channels]
            if some:
                link.channels.difference_update(some)
                await link.connection.send_command("SUNSUBSCRIBE", *some)

    def _lost(self) -> None:
        if self._resync is None or self._resync.done():
            self._resync = asyncio.create_task(self._resubscribe(), name="realtime-hub-resync")

    async def _resubscribe(self) -> None:
        while self._wanted:
            await self._close_links()
            try:
                await reread_slot_map(self._cluster)
                await self._subscribe(sorted(self._wanted))
                return
            except (RedisError, OSError) as error:
                log.warning("realtime hub cannot resubscribe yet (%s)", error)
                await asyncio.sleep(RESUBSCRIBE_PAUSE_SECONDS)

    async def _close_links(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            await link.close()

    async def stop(self) -> None:
        self._wanted.clear()
        if self._resync is not None:
            self._resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync
            self._resync = None
        await self._close_links()
