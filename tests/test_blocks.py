"""Blocks hold everywhere: replies, groups made before the block, typing, and no oracle that
tells a blocked person they were blocked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from redis.asyncio import Redis

from config.runtime import Runtime
from config.settings import Settings
from domain.graph.models import Follow
from domain.notifications.models import Notification
from domain.realtime.events import messages_channel, typing_channel
from domain.users.models import User
from resolvers.global_ids import parse_global_id, to_global_id
from tests.client import GraphQLClient
from tests.factories import create_post, follow, gid, make_media, make_user, token_for
from tests.jobs import drain
from tests.ws import connect, listening, receive, subscribe
from workers.queues import DEFAULT_QUEUE

SEND = "message { id thread { id } }"


async def _block(client: GraphQLClient, token: str, user: User) -> None:
    done = await client.mutate("block", "blocked", {"userId": gid(user)}, token=token)
    assert done["errors"] == []


async def _comment(
    client: GraphQLClient, token: str, post_id: str, text: str, reply_to: str | None = None
) -> dict[str, Any]:
    fields: dict[str, Any] = {"postId": post_id, "text": text}
    if reply_to:
        fields["replyToId"] = reply_to
    return await client.mutate("addComment", "comment { id }", fields, token=token)


async def test_replies_do_not_cross_a_block(client: GraphQLClient, settings: Settings) -> None:
    ana, bo, cy = await make_user("ana"), await make_user("bo"), await make_user("cy")
    ana_t, bo_t, cy_t = (token_for(u, settings) for u in (ana, bo, cy))
    post = (await create_post(client, cy_t, [await make_media(cy)], "cy's"))["post"]["id"]
    top = (await _comment(client, ana_t, post, "ana's comment"))["comment"]["id"]
    reply = (await _comment(client, cy_t, post, "cy replies", reply_to=top))["comment"]["id"]
    await _block(client, ana_t, bo)

    seen = await client.query(
        "query($id: ID!) { node(id: $id) { ... on Comment { text replyTo { text } } } }",
        {"id": reply},
        token=bo_t,
    )
    assert seen["node"] == {"text": "cy replies", "replyTo": None}
    # ana (the blocker) still sees her own comment there
    own = await client.query(
        "query($id: ID!) { node(id: $id) { ... on Comment { replyTo { text } } } }",
        {"id": reply},
        token=ana_t,
    )
    assert own["node"]["replyTo"] == {"text": "ana's comment"}
    for target in (top, reply):  # the blocker's comment, and a reply in her comment's thread
        refused = await _comment(client, bo_t, post, "bo replies", reply_to=target)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("NOT_FOUND", "replyToId")]
    unknown = await _comment(client, bo_t, post, "x", reply_to=to_global_id("Comment", 12345))
    assert unknown["errors"][0]["message"] == refused["errors"][0]["message"]


async def test_messaging_a_blocker_looks_like_messaging_nobody(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    ana_t, bo_t = token_for(ana, settings), token_for(bo, settings)
    thread = (
        await client.mutate(
            "sendMessage", SEND, {"recipientIds": [gid(bo)], "text": "hi"}, token=ana_t
        )
    )["message"]["thread"]["id"]
    await _block(client, ana_t, bo)
    to_blocker = await client.mutate(
        "sendMessage", SEND, {"recipientIds": [gid(ana)], "text": "hey"}, token=bo_t
    )
    to_nobody = await client.mutate(
        "sendMessage",
        SEND,
        {"recipientIds": [to_global_id("User", 424242)], "text": "hey"},
        token=bo_t,
    )
    assert to_blocker["errors"] == to_nobody["errors"]
    assert to_blocker["errors"][0]["code"] == "NOT_FOUND"
    in_thread = await client.mutate(
        "sendMessage", SEND, {"threadId": thread, "text": "hey"}, token=bo_t
    )
    assert in_thread["errors"][0]["code"] == "NOT_FOUND"
    blocker = await client.mutate(
        "sendMessage", SEND, {"recipientIds": [gid(bo)], "text": "x"}, token=ana_t
    )
    assert blocker["errors"][0]["code"] == "BLOCKED"  # she knows whom she blocked


async def test_sharing_a_post_one_cannot_see_is_not_found(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, bo = await make_user("ana", private=True), await make_user("bo")
    ana_t, bo_t = token_for(ana, settings), token_for(bo, settings)
    post = (await create_post(client, ana_t, [await make_media(ana)], "private"))["post"]["id"]
    cy = await make_user("cy")
    shared = await client.mutate(
        "sendMessage", SEND, {"recipientIds": [gid(cy)], "postId": post}, token=bo_t
    )
    missing = await client.mutate(
        "sendMessage",
        SEND,
        {"recipientIds": [gid(cy)], "postId": to_global_id("Post", 99)},
        token=bo_t,
    )
    assert shared["errors"] == missing["errors"]
    assert shared["errors"][0]["code"] == "NOT_FOUND"


async def test_a_group_made_before_a_block_hides_each_side_from_the_other(
    client: GraphQLClient, settings: Settings, runtime: Runtime, live_server: str, redis: Redis
) -> None:
    ana, bo, cy = await make_user("ana"), await make_user("bo"), await make_user("cy")
    for member in (ana, bo, cy):
        for other in (ana, bo, cy):
            if member is not other:
                await follow(member, other, runtime.users)
    ana_t, bo_t, cy_t = (token_for(u, settings) for u in (ana, bo, cy))
    group = (
        await client.mutate(
            "sendMessage",
            SEND,
            {"recipientIds": [gid(ana), gid(bo)], "text": "hello all"},
            token=cy_t,
        )
    )["message"]["thread"]["id"]
    before = (
        await client.mutate(
            "sendMessage", SEND, {"threadId": group, "text": "bo before"}, token=bo_t
        )
    )["message"]["id"]
    await _block(client, ana_t, bo)

    read = await client.query(
        "query($id: ID!) { node(id: $id) { ... on Thread { unreadCount } } }",
        {"id": group},
        token=ana_t,
    )
    unread_before = read["node"]["unreadCount"]
    ws = await connect(live_server, ana_t)
    try:
        await subscribe(ws, "subscription { messageReceived { text } }", op_id="m")
        await subscribe(
            ws,
            "subscription($t: ID!) { typing(threadId: $t) { user { username } } }",
            {"t": group},
            op_id="t",
        )
        await listening(redis, messages_channel(ana.id))
        await listening(redis, typing_channel(parse_global_id(group)[1]))
        # bo, after the block: his message goes to cy, not to ana; his typing neither
        sent = await client.mutate(
            "sendMessage", SEND, {"threadId": group, "text": "bo after"}, token=bo_t
        )
        assert sent["errors"] == []
        await client.mutate("setTyping", "ok", {"threadId": group}, token=bo_t)
        await client.mutate("setTyping", "ok", {"threadId": group}, token=cy_t)
        await client.mutate(
            "sendMessage", SEND, {"threadId": group, "text": "cy after"}, token=cy_t
        )
        heard = [await receive(ws), await receive(ws)]
        payloads = sorted(json.dumps(h["payload"]["data"], sort_keys=True) for h in heard)
        assert payloads == sorted(
            [
                json.dumps({"typing": {"user": {"username": "cy"}}}, sort_keys=True),
                json.dumps({"messageReceived": {"text": "cy after"}}, sort_keys=True),
            ]
        )
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), timeout=0.5)
    finally:
        await ws.close()

    thread_query = """query($id: ID!) { node(id: $id) { ... on Thread { unreadCount
      participants { username } lastMessage { text } messages { edges { node { text } } } } } }"""
    as_ana = (await client.query(thread_query, {"id": group}, token=ana_t))["node"]
    assert sorted(p["username"] for p in as_ana["participants"]) == ["ana", "cy"]
    assert [e["node"]["text"] for e in as_ana["messages"]["edges"]] == ["cy after", "hello all"]
    assert as_ana["lastMessage"] == {"text": "cy after"}
    assert as_ana["unreadCount"] == unread_before + 1  # cy's, not bo's
    as_bo = (await client.query(thread_query, {"id": group}, token=bo_t))["node"]
    assert sorted(p["username"] for p in as_bo["participants"]) == ["bo", "cy"]
    assert "ana" not in json.dumps(as_bo)
    as_cy = (await client.query(thread_query, {"id": group}, token=cy_t))["node"]
    assert len(as_cy["messages"]["edges"]) == 4  # cy is on neither side: she sees all
    # nor by its id
    hidden = await client.query(
        "query($id: ID!) { node(id: $id) { id } }", {"id": before}, token=ana_t
    )
    assert hidden["node"] is None


async def test_a_new_group_never_holds_both_sides_of_a_block(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, bo, cy = await make_user("ana"), await make_user("bo"), await make_user("cy")
    await _block(client, token_for(ana, settings), bo)
    refused = await client.mutate(
        "sendMessage",
        SEND,
        {"recipientIds": [gid(ana), gid(bo)], "text": "hi both"},
        token=token_for(cy, settings),
    )
    [error] = refused["errors"]
    assert (error["code"], error["field"]) == ("FORBIDDEN", "recipientIds")
    assert "ana" not in error["message"]
    assert "bo" not in error["message"]
    assert "block" not in error["message"].lower()


async def test_a_mention_in_a_post_one_cannot_see_tells_nothing(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana = await make_user("ana", private=True)
    fan, _stranger = await make_user("fan"), await make_user("stranger")
    await follow(fan, ana, runtime.users)  # a request, to a private account: approve it
    await Follow.filter(follower_id=fan.id).update(status="ACTIVE")
    ana_t = token_for(ana, settings)
    await create_post(client, ana_t, [await make_media(ana)], "hi @fan and @stranger")
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)
    told = await Notification.filter(kind="MENTION").values_list("user_id", flat=True)
    assert told == [fan.id]


async def test_hashtag_counts_are_of_public_posts(
    client: GraphQLClient, settings: Settings
) -> None:
    public, private = await make_user("pub"), await make_user("priv", private=True)
    for user in (public, private):
        await create_post(client, token_for(user, settings), [await make_media(user)], "#sun")
    tag = await client.query('{ hashtag(name: "sun") { postCount } }')
    assert tag["hashtag"]["postCount"] == 1
