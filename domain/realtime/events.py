"""Realtime events: the one place that names their channels and publishes them.

Flows publish through an `Events` port; subscriptions listen on the same channel names through
the process's `Hub`. An event is published only after what it tells of is committed.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

# Each channel names its user, thread or media in a hash tag: on a Redis Cluster it is a sharded
# channel, heard on the master of that slot (see domain/realtime/hub).


def messages_channel(user_id: int) -> str:
    return f"user:{{{user_id}}}:messages"


def typing_channel(thread_id: int) -> str:
    return f"thread:{{{thread_id}}}:typing"


def notifications_channel(user_id: int) -> str:
    return f"user:{{{user_id}}}:notifications"


def media_channel(media_id: int) -> str:
    return f"media:{{{media_id}}}"


class Events(Protocol):
    async def message_sent(
        self, *, member_ids: list[int], thread_id: int, message: dict[str, Any]
    ) -> None: ...

    async def typing(self, *, thread_id: int, user_id: int) -> None: ...

    async def notification(self, *, recipient_id: int, notification_id: int) -> None: ...

    async def media_status(self, *, media_id: int, status: str) -> None: ...


class RedisEvents:
    """Events as JSON on Redis pub/sub (sharded pub/sub on a cluster), heard by every API
    process's hub."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._command = "SPUBLISH" if isinstance(redis, RedisCluster) else "PUBLISH"

    async def _publish(self, channel: str, event: dict[str, Any]) -> None:
        await self._redis.execute_command(self._command, channel, json.dumps(event))

    async def message_sent(
        self, *, member_ids: list[int], thread_id: int, message: dict[str, Any]
    ) -> None:
        # The event carries the message, so delivering it costs no query per subscriber.
        event = {"threadId": thread_id, "message": message}
        for member in member_ids:
            await self._publish(messages_channel(member), event)

    async def typing(self, *, thread_id: int, user_id: int) -> None:
        await self._publish(typing_channel(thread_id), {"threadId": thread_id, "userId": user_id})

    async def notification(self, *, recipient_id: int, notification_id: int) -> None:
        await self._publish(
            notifications_channel(recipient_id), {"notificationId": notification_id}
        )

    async def media_status(self, *, media_id: int, status: str) -> None:
        await self._publish(media_channel(media_id), {"mediaId": media_id, "status": status})
