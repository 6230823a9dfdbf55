"""A GraphQL-over-WebSocket client for the tests (graphql-transport-ws unless told)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import websockets
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from websockets.asyncio.client import ClientConnection


def ws_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/graphql"


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=15))
    return message


async def connect(
    server: str, token: str | None, *, protocol: str = "graphql-transport-ws", ack: bool = True
) -> ClientConnection:
    """Open a socket and send connection_init (with the token, if any); wait for the ack."""
    ws = await websockets.connect(ws_url(server), subprotocols=[protocol])  # type: ignore[list-item]
    payload = {"authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    if ack:
        assert (await receive(ws))["type"] == "connection_ack"
    return ws


async def subscribe(
    ws: ClientConnection,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    op_id: str = "1",
    legacy: bool = False,
) -> None:
    await ws.send(
        json.dumps(
            {
                "id": op_id,
                "type": "start" if legacy else "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
    )


async def publish(redis: Redis, channel: str, data: str) -> None:
    """Publish as Shutter does: sharded pub/sub on a cluster, plain on one Redis."""
    command = "SPUBLISH" if isinstance(redis, RedisCluster) else "PUBLISH"
    await redis.execute_command(command, channel, data)


async def subscribers(redis: Redis, channel: str) -> int:
    if isinstance(redis, RedisCluster):  # a sharded channel, on the master of its slot
        node = redis.get_node_from_key(channel)
        reply = await redis.execute_command("PUBSUB", "SHARDNUMSUB", channel, target_nodes=node)
        return int(reply[1])
    return int((await redis.pubsub_numsub(channel))[0][1])


async def listening(redis: Redis, channel: str) -> None:
    """Wait until a server process has subscribed `channel` in Redis: from then on, whatever is
    published to it reaches that process's subscriptions (a fixed sleep is not enough on a
    loaded machine)."""
    async with asyncio.timeout(15):
        for _ in itertools.count():
            if await subscribers(redis, channel) > 0:
                return
            await asyncio.sleep(0.02)
