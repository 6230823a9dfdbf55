"""Notifications: made by the worker from events, grouped, read, and pushed live."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from config.runtime import Runtime
from config.settings import Settings
from domain.notifications import service as notifications
from domain.notifications.models import Notification
from domain.posts import flows as posts
from domain.realtime.events import notifications_channel
from domain.users.models import User
from resolvers.global_ids import parse_global_id, to_global_id
from tests.client import GraphQLClient
from tests.factories import create_post, gid, make_media, make_user, token_for
from tests.jobs import drain
from tests.ws import connect, listening, receive
from workers.queues import DEFAULT_QUEUE

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

LIST = """{ notifications { unreadCount edges { node { id kind actorCount read
  actors(first: 3) { edges { node { username } } totalCount } post { id }
  comment { text } } } } }"""


async def post_by(runtime: Runtime, author: User, caption: str = "") -> str:
    media = await make_media(author)
    post_id = await posts.create_post(
        author_id=author.id,
        media_ids=[media.id],
        caption=caption,
        stores=runtime.post_stores,
        ports=runtime.ports,
    )
    return to_global_id("Post", post_id)


async def listed(client: GraphQLClient, token: str) -> dict[str, Any]:
    data: dict[str, Any] = (await client.query(LIST, token=token))["notifications"]
    return data


async def test_likes_on_a_post_are_one_entry(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana = await make_user("ana")
    post = await post_by(runtime, ana)
    fans = [await make_user(f"fan{i}") for i in range(5)]
    for fan in fans:
        await client.mutate(
            "likePost", "post { id }", {"postId": post}, token=token_for(fan, settings)
        )
    await client.mutate(
        "likePost", "post { id }", {"postId": post}, token=token_for(ana, settings)
    )  # her own like tells nobody
    assert await Notification.all().count() == 0  # made by the worker, not the request
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)

    data = await listed(client, token_for(ana, settings))
    [entry] = data["edges"]
    assert entry["node"]["kind"] == "LIKE"
    assert entry["node"]["actorCount"] == 5
    # The worker runs the like jobs concurrently, so which three come first may vary.
    shown = [a["node"]["username"] for a in entry["node"]["actors"]["edges"]]
    assert len(set(shown)) == 3
    assert set(shown) <= {f.username for f in fans}
    assert entry["node"]["post"] == {"id": post}
    assert data["unreadCount"] == 1
    # actors is a connection: totalCount is actorCount, and it pages to the end.
    assert entry["node"]["actors"]["totalCount"] == 5
    pages, after = [], None
    while True:
        body = await client.query(
            "query($after: String) { notifications { edges { node { actors(first: 2,"
            " after: $after) { edges { node { username } } pageInfo { hasNextPage endCursor }"
            " } } } } }",
            {"after": after},
            token=token_for(ana, settings),
        )
        actors = body["notifications"]["edges"][0]["node"]["actors"]
        pages.append([e["node"]["username"] for e in actors["edges"]])
        if not actors["pageInfo"]["hasNextPage"]:
            break
        after = actors["pageInfo"]["endCursor"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(u for p in pages for u in p) == sorted(f.username for f in fans)


async def test_recording_twice_changes_nothing(runtime: Runtime) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    post_id = parse_global_id(await post_by(runtime, ana))[1]
    event = notifications.Event("LIKE", bo.id, ana.id, key=f"like:{post_id}:2", post_id=post_id)
    first = await notifications.record(event, events=runtime.ports.events)
    second = await notifications.record(event, events=runtime.ports.events)
    assert first is not None
    assert second is None
    follow = notifications.Event("FOLLOW", bo.id, ana.id, key="follow:x")
    assert await notifications.record(follow, events=runtime.ports.events) is not None
    assert await notifications.record(follow, events=runtime.ports.events) is None
    assert await Notification.all().count() == 2


async def test_comments_follows_requests_and_mentions(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    hiro = await make_user("hiro", private=True)
    bo_token = token_for(bo, settings)
    post = await post_by(runtime, ana)
    await client.mutate(
        "addComment", "comment { id }", {"postId": post, "text": "lovely"}, token=bo_token
    )
    await client.mutate("follow", "status", {"userId": gid(ana)}, token=bo_token)
    await client.mutate("follow", "status", {"userId": gid(hiro)}, token=bo_token)
    await create_post(client, bo_token, [await make_media(bo)], "with @ana")
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)

    kinds = [e["node"]["kind"] for e in (await listed(client, token_for(ana, settings)))["edges"]]
    assert kinds == ["MENTION", "FOLLOW", "COMMENT"]
    comment = (await listed(client, token_for(ana, settings)))["edges"][2]["node"]["comment"]
    assert comment == {"text": "lovely"}
    requests = await listed(client, token_for(hiro, settings))
    assert [e["node"]["kind"] for e in requests["edges"]] == ["FOLLOW_REQUEST"]


async def test_a_follow_again_after_an_unfollow_is_told_again_a_retried_one_is_not(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    bo_token = token_for(bo, settings)
    for mutation in ("follow", "follow", "unfollow", "follow"):  # the second is a retry
        await client.mutate(mutation, "user { id }", {"userId": gid(ana)}, token=bo_token)
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)

    kinds = [e["node"]["kind"] for e in (await listed(client, token_for(ana, settings)))["edges"]]
    assert kinds == ["FOLLOW", "FOLLOW"]


async def test_none_from_blocked_accounts(runtime: Runtime) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    from domain.graph import service as graph

    await graph.block(blocker_id=ana.id, blocked_id=bo.id, users=runtime.users)
    event = notifications.Event("FOLLOW", bo.id, ana.id, key="follow:blocked")
    assert await notifications.record(event, events=runtime.ports.events) is None
    assert await Notification.all().count() == 0


async def test_mark_read_up_to_an_entry(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana = await make_user("ana")
    for i in range(3):
        follower = await make_user(f"f{i}")
        await notifications.record(
            notifications.Event("FOLLOW", follower.id, ana.id, key=f"follow:{i}"),
            events=runtime.ports.events,
        )
    token = token_for(ana, settings)
    edges = (await listed(client, token))["edges"]
    middle = edges[1]["node"]["id"]
    done = await client.mutate(
        "markNotificationsRead", "unreadCount", {"upToId": middle}, token=token
    )
    assert done == {"unreadCount": 1, "errors": []}
    assert [e["node"]["read"] for e in (await listed(client, token))["edges"]] == [
        False,
        True,
        True,
    ]
    other = token_for(await make_user("bo"), settings)
    refused = await client.mutate(
        "markNotificationsRead", "unreadCount", {"upToId": middle}, token=other
    )
    assert [e["code"] for e in refused["errors"]] == ["NOT_FOUND"]


async def test_notifications_arrive_live(
    live_server: str, client: GraphQLClient, settings: Settings, runtime: Runtime, redis: Redis
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    post = await post_by(runtime, ana)
    ws = await connect(live_server, token_for(ana, settings))
    try:
        await ws.send(
            json.dumps(
                {
                    "id": "n",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription { notificationReceived {"
                        " kind actors { edges { node { username } } } } }"
                    },
                }
            )
        )
        await listening(redis, notifications_channel(ana.id))
        await client.mutate(
            "likePost", "post { id }", {"postId": post}, token=token_for(bo, settings)
        )
        await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)
        message = await receive(ws)
    finally:
        await ws.close()
    assert message["payload"]["data"]["notificationReceived"] == {
        "kind": "LIKE",
        "actors": {"edges": [{"node": {"username": "bo"}}]},
    }
