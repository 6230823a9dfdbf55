"""Subscriptions over both WebSocket protocols against the live server; events made in this
process (the worker) reach a client of the server process through Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import websockets
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection

from config.runtime import Runtime
from config.settings import Settings
from domain.realtime.events import media_channel
from resolvers.global_ids import parse_global_id
from tests import media_files
from tests.client import GraphQLClient
from tests.factories import make_user, token_for
from tests.jobs import drain
from tests.ws import connect, listening, publish, receive, subscribe, subscribers
from workers.queues import MEDIA_QUEUE

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

MEDIA_PROCESSED = "subscription($id: ID!) { mediaProcessed(mediaId: $id) { id status } }"


@asynccontextmanager
async def transport_ws(live_server: str, token: str | None) -> AsyncIterator[ClientConnection]:
    ws = await connect(live_server, token, ack=False)
    try:
        yield ws
    finally:
        await ws.close()


async def pending_upload(client: GraphQLClient, token: str) -> str:
    photo = media_files.jpeg(640, 480)
    payload = await client.mutate(
        "createUpload",
        "media { id } uploadUrl",
        {"kind": "IMAGE", "contentType": "image/jpeg", "byteSize": len(photo)},
        token=token,
    )
    async with httpx.AsyncClient() as http:
        put = await http.put(
            payload["uploadUrl"], content=photo, headers={"Content-Type": "image/jpeg"}
        )
    assert put.status_code == 200
    media_id: str = payload["media"]["id"]
    return media_id


async def test_connection_without_a_token_is_refused_with_4403(live_server: str) -> None:
    async with transport_ws(live_server, None) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_forged_token_is_refused(live_server: str) -> None:
    async with transport_ws(live_server, "not-a-token") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_media_processed_across_processes(
    live_server: str, client: GraphQLClient, settings: Settings, runtime: Runtime, redis: Redis
) -> None:
    # given: a signed-in client listening for its upload, on the server process
    user = await make_user("ana")
    token = token_for(user, settings)
    media_id = await pending_upload(client, token)
    async with transport_ws(live_server, token) as ws:
        assert (await receive(ws))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": MEDIA_PROCESSED, "variables": {"id": media_id}},
                }
            )
        )
        await listening(redis, media_channel(parse_global_id(media_id)[1]))

        # when: the media worker, in this process, processes the upload
        await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)

        # then: the server process pushes each step, and ends the subscription
        statuses = []
        while True:
            message = await receive(ws)
            if message["type"] == "complete":
                break
            assert message["type"] == "next", message
            statuses.append(message["payload"]["data"]["mediaProcessed"]["status"])
    # (READY alone when the server's first read of the media, just after it began listening,
    # already found the worker past PROCESSING: a machine busy enough can stall it that long)
    assert statuses in (["PROCESSING", "READY"], ["READY"])


async def test_legacy_graphql_ws_protocol(
    live_server: str, client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    user = await make_user("ana")
    token = token_for(user, settings)
    media_id = await pending_upload(client, token)
    await drain(MEDIA_QUEUE, settings=settings, runtime=runtime)  # READY before listening
    ws = await connect(live_server, token, protocol="graphql-ws")
    async with ws:
        await subscribe(ws, MEDIA_PROCESSED, {"id": media_id}, legacy=True)
        data = await receive(ws)
        assert data["type"] == "data"
        assert data["payload"]["data"]["mediaProcessed"]["status"] == "READY"
        assert (await receive(ws))["type"] == "complete"


async def test_one_redis_subscription_per_process_and_none_left_behind(
    live_server: str, client: GraphQLClient, settings: Settings, redis: Redis
) -> None:
    user = await make_user("ana")
    token = token_for(user, settings)
    media_id = await pending_upload(client, token)
    channel = media_channel(parse_global_id(media_id)[1])
    sockets = []
    for _ in range(5):  # five clients of the same process listen to the same media
        ws = await connect(live_server, token)
        await subscribe(ws, MEDIA_PROCESSED, {"id": media_id})
        sockets.append(ws)
    await listening(redis, channel)
    await asyncio.sleep(0.5)  # the other four listeners, which Redis would see if they subscribed
    assert await subscribers(redis, channel) == 1

    for ws in sockets:
        await ws.close()
    for _ in range(50):  # the server notices the disconnects and lets the channel go
        if await subscribers(redis, channel) == 0:
            break
        await asyncio.sleep(0.1)
    assert await subscribers(redis, channel) == 0


async def test_someone_elses_media_cannot_be_watched(
    live_server: str, client: GraphQLClient, settings: Settings
) -> None:
    owner, other = await make_user("ana"), await make_user("bo")
    media_id = await pending_upload(client, token_for(owner, settings))
    async with transport_ws(live_server, token_for(other, settings)) as ws:
        assert (await receive(ws))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": MEDIA_PROCESSED, "variables": {"id": media_id}},
                }
            )
        )
        message = await receive(ws)
    assert message["type"] == "next"
    assert message["payload"]["errors"][0]["message"] == "No media with this id."


async def test_a_disconnect_leaves_no_task_and_no_channel(
    live_server: str, client: GraphQLClient, settings: Settings, redis: Redis
) -> None:
    def gauges(text: str) -> tuple[float, float]:
        values = {
            line.split()[0]: float(line.split()[1])
            for line in text.splitlines()
            if line.startswith("shutter_")
        }
        return values["shutter_realtime_channels"], values["shutter_asyncio_tasks"]

    user = await make_user("ana")
    token = token_for(user, settings)
    media_id = await pending_upload(client, token)
    before = gauges((await client.http.get("/metrics")).text)
    sockets = []
    for _ in range(3):
        ws = await connect(live_server, token)
        await subscribe(ws, MEDIA_PROCESSED, {"id": media_id})
        sockets.append(ws)
    await listening(redis, media_channel(parse_global_id(media_id)[1]))
    await asyncio.sleep(0.3)  # the other two listeners, which Redis does not see
    during = gauges((await client.http.get("/metrics")).text)
    assert during[0] == before[0] + 1  # one channel for three listeners
    assert during[1] > before[1]
    for ws in sockets:
        await ws.close()
    for _ in range(50):
        after = gauges((await client.http.get("/metrics")).text)
        if after == before:
            break
        await asyncio.sleep(0.1)
    assert after == before  # no channel, no task: the hub's reader stops with its last listener


async def test_a_slow_subscriber_loses_its_oldest_events_not_memory(redis: Redis) -> None:
    from domain.realtime.hub import Hub

    hub = Hub(redis, queue_size=10)
    try:
        async with hub.subscribe("bench:slow") as queue:
            for i in range(25):
                await publish(redis, "bench:slow", json.dumps({"n": i}))
            for _ in range(50):
                if queue.full() and (queue._queue[-1]["n"] == 24):  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.02)
            assert queue.qsize() == 10
            assert [queue.get_nowait()["n"] for _ in range(10)] == list(range(15, 25))
        assert hub.channels == set()
    finally:
        await hub.close()
