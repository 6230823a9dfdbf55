"""One Redis pub/sub connection per process, multiplexing the channels of every local subscriber.

Subscribing to a channel that another local subscriber already listens to costs nothing in
Redis; the last local subscriber to leave a channel unsubscribes it. Each subscriber gets a
bounded queue: a subscriber that cannot keep up loses its oldest events, never the process's
memory. The reader task reconnects (redis-py re-subscribes) after a Redis restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

QUEUE_SIZE = 100


class Hub:
    def __init__(self, redis: Redis, *, queue_size: int = QUEUE_SIZE) -> None:
        self._redis = redis
        self._queue_size = queue_size
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._channels: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._lock = asyncio.Lock()

    @property
    def channels(self) -> set[str]:
        return set(self._channels)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        async with self._lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
            new = [c for c in channels if c not in self._channels]
            for channel in channels:
                self._channels.setdefault(channel, set()).add(queue)
            if new:
                await self._pubsub.subscribe(*new)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="realtime-hub")
        try:
            yield queue
        finally:
            async with self._lock:
                gone = []
                for channel in channels:
                    listeners = self._channels.get(channel)
                    if listeners is not None:
                        listeners.discard(queue)
                        if not listeners:
                            del self._channels[channel]
                            gone.append(channel)
                if gone and self._pubsub is not None:
                    with contextlib.suppress(RedisConnectionError):
                        await self._pubsub.unsubscribe(*gone)
                if not self._channels:
                    # Nobody listens: stop the reader and give the connection back.
                    await self._stop_reader()

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
            if message is None or message.get("type") != "message":
                continue
            try:
                event = json.loads(message["data"])
            except (TypeError, ValueError):
                continue
            for queue in list(self._channels.get(message["channel"], ())):
                if queue.full():
                    queue.get_nowait()  # a slow subscriber loses its oldest event
                queue.put_nowait(event)

    async def _stop_reader(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    async def close(self) -> None:
        async with self._lock:
            self._channels.clear()
            await self._stop_reader()
