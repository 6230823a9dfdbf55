"""Direct messages end to end, and realtime delivery across two API processes."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
import websockets
from redis.asyncio import Redis

from config.runtime import Runtime
from config.settings import Settings
from domain.messaging.models import Message, Thread
from domain.realtime.events import messages_channel, typing_channel
from domain.users.models import User
from resolvers.global_ids import parse_global_id
from tests.client import GraphQLClient
from tests.factories import follow, gid, make_user, token_for
from tests.ws import connect, listening, receive

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

SEND = "message { id text clientId thread { id unreadCount isRequest } sender { username } }"
THREADS = """{ threads { unreadCount edges { node { id kind unreadCount isRequest
  participants { username } lastMessage { text createdAt } createdAt updatedAt } } }
  messageRequests { edges { node { id } } } }"""


async def send(client: GraphQLClient, token: str, **input_: Any) -> dict[str, Any]:
    return await client.mutate("sendMessage", SEND, input_, token=token)


async def pair(
    settings: Settings, runtime: Runtime, *, friends: bool = True
) -> tuple[User, User, str, str]:
    ana, bo = await make_user("ana"), await make_user("bo")
    if friends:
        await follow(bo, ana, runtime.users)  # bo follows ana: ana's messages reach his inbox
    return ana, bo, token_for(ana, settings), token_for(bo, settings)


async def test_a_first_message_opens_one_thread_per_pair(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo, ana_token, bo_token = await pair(settings, runtime)
    first = await send(client, ana_token, recipientIds=[gid(bo)], text=" hi bo ")
    second = await send(client, ana_token, recipientIds=[gid(bo)], text="again")
    reply = await send(client, bo_token, recipientIds=[gid(ana)], text="hey")

    assert first["errors"] == []
    assert first["message"]["text"] == "hi bo"
    thread_id = first["message"]["thread"]["id"]
    assert second["message"]["thread"]["id"] == reply["message"]["thread"]["id"] == thread_id
    assert await Thread.all().count() == 1
    inbox = await client.query(THREADS, token=bo_token)
    [edge] = inbox["threads"]["edges"]
    assert edge["node"]["kind"] == "DIRECT"
    assert edge["node"]["unreadCount"] == 2  # his own reply does not count
    assert edge["node"]["lastMessage"]["text"] == "hey"
    assert sorted(p["username"] for p in edge["node"]["participants"]) == ["ana", "bo"]
    # created with the first message; last active when the newest was sent
    created, updated = (datetime.fromisoformat(edge["node"][f]) for f in ("createdAt", "updatedAt"))
    newest = datetime.fromisoformat(edge["node"]["lastMessage"]["createdAt"])
    assert created <= updated
    assert updated == newest
    assert inbox["threads"]["unreadCount"] == 2


async def test_history_and_read_state(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    _, bo, ana_token, bo_token = await pair(settings, runtime)
    sent = [await send(client, ana_token, recipientIds=[gid(bo)], text=f"m{i}") for i in range(5)]
    thread_id = sent[0]["message"]["thread"]["id"]
    history = await client.query(
        "query($id: ID!) { thread(id: $id) { messages(first: 3) { edges { node { text } }"
        " pageInfo { hasNextPage } } } }",
        {"id": thread_id},
        token=bo_token,
    )
    assert [e["node"]["text"] for e in history["thread"]["messages"]["edges"]] == ["m4", "m3", "m2"]
    assert history["thread"]["messages"]["pageInfo"]["hasNextPage"] is True
    read = await client.mutate(
        "markThreadRead",
        "thread { unreadCount }",
        {"threadId": thread_id, "messageId": sent[2]["message"]["id"]},
        token=bo_token,
    )
    assert read["thread"] == {"unreadCount": 2}


async def test_strangers_land_in_requests_until_accepted(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    _, bo, ana_token, bo_token = await pair(settings, runtime, friends=False)
    sent = await send(client, ana_token, recipientIds=[gid(bo)], text="hello stranger")
    thread_id = sent["message"]["thread"]["id"]
    before = await client.query(THREADS, token=bo_token)
    assert before["threads"]["edges"] == []
    assert before["messageRequests"]["edges"] == [{"node": {"id": thread_id}}]
    accepted = await client.mutate(
        "acceptMessageRequest", "thread { isRequest }", {"threadId": thread_id}, token=bo_token
    )
    assert accepted["thread"] == {"isRequest": False}
    after = await client.query(THREADS, token=bo_token)
    assert [e["node"]["id"] for e in after["threads"]["edges"]] == [thread_id]


async def test_a_retried_send_returns_the_same_message(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    _, bo, ana_token, _ = await pair(settings, runtime)
    attempts = await asyncio.gather(
        *[
            send(client, ana_token, recipientIds=[gid(bo)], text="once", clientId="c-123")
            for _ in range(4)
        ]
    )
    assert len({a["message"]["id"] for a in attempts}) == 1
    assert await Message.all().count() == 1


async def test_groups(client: GraphQLClient, settings: Settings, runtime: Runtime) -> None:
    ana = await make_user("ana")
    others = [await make_user(f"m{i}") for i in range(31)]
    token = token_for(ana, settings)
    group = await send(client, token, recipientIds=[gid(u) for u in others[:3]], text="all")
    assert group["errors"] == []
    thread = await client.query(
        "query($id: ID!) { thread(id: $id) { kind participants { username } } }",
        {"id": group["message"]["thread"]["id"]},
        token=token,
    )
    assert thread["thread"]["kind"] == "GROUP"
    assert len(thread["thread"]["participants"]) == 4
    too_big = await send(
        client,
        token,
        recipientIds=[gid(u) for u in others] + [gid(await make_user("extra"))],
        text="crowd",
    )
    assert too_big["errors"][0]["message"] == "A group has at most 32 members."


async def test_bad_messages_change_nothing(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo, ana_token, _ = await pair(settings, runtime)
    outsider = token_for(await make_user("cy"), settings)
    thread_id = (await send(client, ana_token, recipientIds=[gid(bo)], text="hi"))["message"][
        "thread"
    ]["id"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        (ana_token, {"recipientIds": [gid(bo)], "text": "   "}, "text"),
        (ana_token, {"recipientIds": [gid(bo)], "text": "x" * 1001}, "text"),
        (ana_token, {"recipientIds": [gid(bo)], "threadId": thread_id, "text": "hi"}, "threadId"),
        (ana_token, {"text": "to nobody"}, "threadId"),
        (ana_token, {"recipientIds": ["VXNlcjox"], "text": "hi"}, "recipientIds"),
        (ana_token, {"recipientIds": [gid(ana)], "text": "me"}, "recipientIds"),
        (outsider, {"threadId": thread_id, "text": "let me in"}, "threadId"),
    ]
    for token, input_, field in cases:
        payload = await send(client, token, **input_)
        assert payload["message"] is None
        assert payload["errors"][0]["field"] == field, input_
    assert await Message.all().count() == 1


async def test_blocked_users_cannot_message_each_other(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo, ana_token, bo_token = await pair(settings, runtime)
    thread_id = (await send(client, ana_token, recipientIds=[gid(bo)], text="hi"))["message"][
        "thread"
    ]["id"]
    await client.mutate("block", "blocked", {"userId": gid(ana)}, token=bo_token)
    # To ana, bo (who blocked her) is not there; bo is told he blocked her.
    for token, input_, code in [
        (ana_token, {"threadId": thread_id, "text": "still there?"}, "NOT_FOUND"),
        (ana_token, {"recipientIds": [gid(bo)], "text": "hello?"}, "NOT_FOUND"),
        (bo_token, {"threadId": thread_id, "text": "go away"}, "BLOCKED"),
    ]:
        payload = await send(client, token, **input_)
        assert [e["code"] for e in payload["errors"]] == [code]
    assert await Message.all().count() == 1


async def test_messages_reach_a_client_of_another_process(
    live_server: str, second_live_server: str, settings: Settings, runtime: Runtime, redis: Redis
) -> None:
    # given: bo listens on server 1
    _ana, bo, ana_token, bo_token = await pair(settings, runtime)
    ws = await connect(live_server, bo_token)
    try:
        await ws.send(
            json.dumps(
                {
                    "id": "m",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription { messageReceived { text sender { username } } }"
                    },
                }
            )
        )
        await listening(redis, messages_channel(bo.id))

        # when: ana sends through server 2
        async with httpx.AsyncClient(base_url=second_live_server) as http:
            sent = await send(
                GraphQLClient(http), ana_token, recipientIds=[gid(bo)], text="across processes"
            )
        assert sent["errors"] == []

        # then
        message = await receive(ws)
        assert message["payload"]["data"]["messageReceived"] == {
            "text": "across processes",
            "sender": {"username": "ana"},
        }
    finally:
        await ws.close()


async def test_typing_reaches_the_others_only(
    live_server: str,
    second_live_server: str,
    client: GraphQLClient,
    settings: Settings,
    runtime: Runtime,
    redis: Redis,
) -> None:
    _ana, bo, ana_token, bo_token = await pair(settings, runtime)
    thread_id = (await send(client, ana_token, recipientIds=[gid(bo)], text="hi"))["message"][
        "thread"
    ]["id"]
    query = "subscription($t: ID!) { typing(threadId: $t) { threadId user { username } } }"
    bo_ws, ana_ws = await connect(live_server, bo_token), await connect(live_server, ana_token)
    try:
        for ws in (bo_ws, ana_ws):
            await ws.send(
                json.dumps(
                    {
                        "id": "t",
                        "type": "subscribe",
                        "payload": {"query": query, "variables": {"t": thread_id}},
                    }
                )
            )
            if ws is bo_ws:
                await listening(redis, typing_channel(parse_global_id(thread_id)[1]))
        await asyncio.sleep(0.3)  # ana's subscription, which Redis does not see apart
        async with httpx.AsyncClient(base_url=second_live_server) as http:
            typed = await GraphQLClient(http).mutate(
                "setTyping", "ok", {"threadId": thread_id}, token=ana_token
            )
        assert typed == {"ok": True, "errors": []}
        event = await receive(bo_ws)
        assert event["payload"]["data"]["typing"] == {
            "threadId": thread_id,
            "user": {"username": "ana"},
        }
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ana_ws.recv(), timeout=0.5)  # not to the typist
    finally:
        await bo_ws.close()
        await ana_ws.close()


async def test_subscribing_to_someone_elses_thread_is_refused(
    live_server: str, client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    _, bo, ana_token, _ = await pair(settings, runtime)
    thread_id = (await send(client, ana_token, recipientIds=[gid(bo)], text="hi"))["message"][
        "thread"
    ]["id"]
    ws = await connect(live_server, token_for(await make_user("eve"), settings))
    try:
        await ws.send(
            json.dumps(
                {
                    "id": "t",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($t: ID!) { typing(threadId: $t) { threadId } }",
                        "variables": {"t": thread_id},
                    },
                }
            )
        )
        message = await receive(ws)
    finally:
        await ws.close()
    assert message["payload"]["errors"][0]["message"] == "No thread with this id."


async def test_a_malformed_protocol_message_closes_the_socket(
    live_server: str, settings: Settings
) -> None:
    ws = await connect(live_server, token_for(await make_user("ana"), settings))
    await ws.send(json.dumps({"type": "subscribe", "payload": "not an object"}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400


async def test_history_pages_backward_with_last_and_before(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    _, bo, ana_token, _ = await pair(settings, runtime)
    thread = None
    for n in range(1, 8):
        sent = await send(client, ana_token, recipientIds=[gid(bo)], text=f"m{n}")
        thread = sent["message"]["thread"]["id"]
    query = """query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      thread(id: $id) { messages(first: $first, after: $after, last: $last, before: $before) {
        edges { node { text } cursor }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""

    async def page(**args: Any) -> dict[str, Any]:
        body = await client.query(query, {"id": thread, **args}, token=ana_token)
        found: dict[str, Any] = body["thread"]["messages"]
        return found

    def texts(found: dict[str, Any]) -> list[str]:
        return [e["node"]["text"] for e in found["edges"]]

    newest = await page(first=3)
    assert texts(newest) == ["m7", "m6", "m5"]
    # the newer ones just before a cursor, nearest last, as a chat that jumped to m5 loads them
    back = await page(last=1, before=newest["pageInfo"]["endCursor"])
    assert texts(back) == ["m6"]
    assert back["pageInfo"]["hasPreviousPage"] is True
    assert back["pageInfo"]["hasNextPage"] is True
    rest = await page(last=5, before=back["pageInfo"]["startCursor"])
    assert texts(rest) == ["m7"]
    assert rest["pageInfo"]["hasPreviousPage"] is False
    oldest = await page(last=2)
    assert texts(oldest) == ["m2", "m1"]
    assert oldest["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": oldest["edges"][0]["cursor"],
        "endCursor": oldest["edges"][1]["cursor"],
    }
    none = await page(first=0)
    assert none["edges"] == []
    assert none["pageInfo"]["hasNextPage"] is True
    both = await client.raw(query, {"id": thread, "first": 2, "last": 2}, token=ana_token)
    assert "one way at a time" in both["errors"][0]["message"]
