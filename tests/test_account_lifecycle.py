"""An account's life: a new password ends every session, deactivation hides it until it
signs in again, and deletion leaves nothing of the person readable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from config.runtime import Runtime
from config.settings import Settings
from domain.media.models import Media
from domain.notifications.models import Notification
from domain.posts.models import Comment, Like
from domain.realtime.events import messages_channel
from domain.users import flows as user_flows
from domain.users.models import AccountStatus, User
from tests.client import GraphQLClient
from tests.factories import (
    PASSWORD,
    create_post,
    follow,
    gid,
    make_media,
    make_user,
    token_for,
)
from tests.jobs import drain
from tests.ws import connect, listening, receive, subscribe
from workers.queues import DEFAULT_QUEUE

NEW_PASSWORD = "a much better passphrase"
AUTH = "accessToken refreshToken user { username }"


async def _login(client: GraphQLClient, username: str, password: str) -> dict[str, Any]:
    return await client.mutate("login", AUTH, {"usernameOrEmail": username, "password": password})


async def _viewer_status(client: GraphQLClient, token: str) -> int:
    response = await client.post("{ viewer { username } }", token=token)
    return response.status_code


async def test_a_new_password_ends_every_session(client: GraphQLClient) -> None:
    await make_user("ana")
    first = await _login(client, "ana", PASSWORD)
    second = await _login(client, "ana", PASSWORD)  # another device
    wrong = await client.mutate(
        "changePassword",
        AUTH,
        {"currentPassword": "not it", "newPassword": NEW_PASSWORD},
        token=first["accessToken"],
    )
    assert [(e["code"], e["field"]) for e in wrong["errors"]] == [
        ("INVALID_CREDENTIALS", "currentPassword")
    ]
    weak = await client.mutate(
        "changePassword",
        AUTH,
        {"currentPassword": PASSWORD, "newPassword": "12345678"},
        token=first["accessToken"],
    )
    assert [(e["code"], e["field"]) for e in weak["errors"]] == [("WEAK_PASSWORD", "newPassword")]

    changed = await client.mutate(
        "changePassword",
        AUTH,
        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        token=first["accessToken"],
    )
    assert changed["errors"] == []
    # at once, not when they expire: both devices' access tokens, and their refresh tokens
    for old in (first, second):
        assert await _viewer_status(client, old["accessToken"]) == 401
        refreshed = await client.mutate("refreshToken", AUTH, {"refreshToken": old["refreshToken"]})
        assert refreshed["errors"][0]["code"] == "INVALID_TOKEN"
    assert await _viewer_status(client, changed["accessToken"]) == 200
    again = await client.mutate("refreshToken", AUTH, {"refreshToken": changed["refreshToken"]})
    assert again["errors"] == []
    assert (await _login(client, "ana", PASSWORD))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert (await _login(client, "ana", NEW_PASSWORD))["errors"] == []


async def test_deactivation_hides_the_account_until_it_signs_in_again(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await follow(bo, ana, runtime.users)
    ana_t, bo_t = token_for(ana, settings), token_for(bo, settings)
    bo_post = (await create_post(client, bo_t, [await make_media(bo)], "bo's"))["post"]["id"]
    ana_post = (await create_post(client, ana_t, [await make_media(ana)], "ana's"))["post"]["id"]
    await client.mutate(
        "addComment", "comment { id }", {"postId": bo_post, "text": "nice"}, token=ana_t
    )
    session = await _login(client, "ana", PASSWORD)

    done = await client.mutate(
        "deactivateAccount", "deactivated", {"password": PASSWORD}, token=ana_t
    )
    assert done == {"deactivated": True, "errors": []}
    assert await _viewer_status(client, ana_t) == 401
    refreshed = await client.mutate("refreshToken", AUTH, {"refreshToken": session["refreshToken"]})
    assert refreshed["errors"][0]["code"] == "INVALID_TOKEN"
    seen = await client.query(
        """query($post: ID!, $mine: ID!, $ana: ID!) {
          user(username: "ana") { id }
          node(id: $ana) { id }
          post(id: $mine) { id }
          search(query: "an") { users { edges { node { username } } } }
          bo: post(id: $post) { commentCount comments { edges { node { text } } } }
          viewer { following { edges { node { username } } } }
        }""",
        {"post": bo_post, "mine": ana_post, "ana": gid(ana)},
        token=bo_t,
    )
    assert seen["user"] is None
    assert seen["node"] is None
    assert seen["post"] is None
    assert seen["search"]["users"]["edges"] == []
    assert seen["bo"]["comments"]["edges"] == []  # the post still reads, without her comment
    assert seen["viewer"]["following"]["edges"] == []

    back = await _login(client, "ana", PASSWORD)
    assert back["errors"] == []
    assert (await client.query('{ user(username: "ana") { username } }'))["user"] == {
        "username": "ana"
    }


async def test_after_30_days_a_deactivated_account_is_deleted(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana = await make_user("ana")
    await client.mutate(
        "deactivateAccount", "deactivated", {"password": PASSWORD}, token=token_for(ana, settings)
    )
    await User.filter(id=ana.id).update(status_changed_at=datetime.now(UTC) - timedelta(days=31))
    assert (await _login(client, "ana", PASSWORD))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    deleted = await user_flows.delete_expired_deactivations(
        stores=runtime.post_stores, ports=runtime.ports
    )
    assert deleted == 1
    row = await User.get(id=ana.id)
    assert row.status is AccountStatus.DELETED
    assert "ana" not in f"{row.username} {row.email} {row.full_name}"


async def test_deletion_leaves_nothing_of_the_person_readable(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana", full_name="Ana Lima", bio="hello"), await make_user("bo")
    await follow(bo, ana, runtime.users)
    await follow(ana, bo, runtime.users)
    ana_t, bo_t = token_for(ana, settings), token_for(bo, settings)
    ana_post = (await create_post(client, ana_t, [await make_media(ana)], "#sun by ana"))["post"][
        "id"
    ]
    bo_post = (await create_post(client, bo_t, [await make_media(bo)], "bo's"))["post"]["id"]
    await client.mutate(
        "addComment", "comment { id }", {"postId": bo_post, "text": "hi"}, token=ana_t
    )
    await client.mutate("likePost", "post { id }", {"postId": bo_post}, token=ana_t)
    sent = await client.mutate(
        "sendMessage",
        "message { id thread { id } }",
        {"recipientIds": [gid(bo)], "text": "ana says hi"},
        token=ana_t,
    )
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)  # bo's notifications

    done = await client.mutate("deleteAccount", "deleted", {"password": PASSWORD}, token=ana_t)
    assert done == {"deleted": True, "errors": []}
    assert await _viewer_status(client, ana_t) == 401  # at once
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)  # the purge, then the files

    seen = await client.query(
        """query($ana: ID!, $post: ID!, $bo: ID!, $thread: ID!, $message: ID!) {
          user(username: "ana") { id }
          node(id: $ana) { id }
          post(id: $post) { id }
          search(query: "ana") { users { edges { node { username } } } }
          hashtag(name: "sun") { postCount posts { edges { node { id } } } }
          bo: node(id: $bo) { ... on User { followerCount followingCount
            followers { edges { node { username } } } } }
          thread: node(id: $thread) { ... on Thread { participants { username }
            messages { edges { node { text sender { username } } } } } }
          message: node(id: $message) { ... on Message { text sender { id } } }
          notifications { edges { node { actors { edges { node { username } } } } } }
        }""",
        {
            "ana": gid(ana),
            "post": ana_post,
            "bo": gid(bo),
            "thread": sent["message"]["thread"]["id"],
            "message": sent["message"]["id"],
        },
        token=bo_t,
    )
    assert seen["user"] is None
    assert seen["node"] is None
    assert seen["post"] is None
    assert seen["search"]["users"]["edges"] == []
    assert seen["hashtag"]["posts"]["edges"] == []
    assert seen["hashtag"]["postCount"] == 0
    assert seen["bo"]["followerCount"] == 0
    assert seen["bo"]["followingCount"] == 0
    assert seen["bo"]["followers"]["edges"] == []
    assert seen["thread"]["participants"] == [{"username": "bo"}]
    # her message stays in the thread, from a deleted user
    assert seen["thread"]["messages"]["edges"] == [
        {"node": {"text": "ana says hi", "sender": None}}
    ]
    assert seen["message"] == {"text": "ana says hi", "sender": None}
    assert seen["notifications"]["edges"] == []
    post = await client.query(
        "query($id: ID!) { post(id: $id) { likeCount commentCount comments { edges { node"
        " { text } } } } }",
        {"id": bo_post},
        token=bo_t,
    )
    assert post["post"] == {"likeCount": 0, "commentCount": 0, "comments": {"edges": []}}
    row = await User.get(id=ana.id)
    assert row.status is AccountStatus.DELETED
    for leaked in ("ana", "Ana Lima", "hello", "example.test"):
        assert leaked not in f"{row.username}|{row.email}|{row.full_name}|{row.bio}"
    assert row.password_hash == "!"
    assert await Comment.filter(author_id=ana.id).count() == 0
    assert await Like.filter(user_id=ana.id).count() == 0
    assert await Media.filter(owner_id=ana.id).count() == 0
    assert await Notification.filter(user_id=ana.id).count() == 0
    # the purge is idempotent, and the name is free again
    assert (
        await user_flows.purge_account(
            user_id=ana.id, stores=runtime.post_stores, ports=runtime.ports
        )
        == 0
    )
    again = await client.mutate(
        "register",
        AUTH,
        {"username": "ana", "email": "ana@example.test", "password": NEW_PASSWORD},
    )
    assert again["errors"] == []
    assert (await _login(client, "ana", PASSWORD))["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_a_new_password_ends_open_subscriptions_at_their_next_event(
    client: GraphQLClient, settings: Settings, live_server: str, redis: Any
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    session = await _login(client, "ana", PASSWORD)
    ws = await connect(live_server, session["accessToken"])
    try:
        await subscribe(ws, "subscription { messageReceived { text } }", op_id="m")
        await listening(redis, messages_channel(ana.id))
        changed = await client.mutate(
            "changePassword",
            AUTH,
            {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            token=session["accessToken"],
        )
        assert changed["errors"] == []
        await client.mutate(
            "sendMessage",
            "message { id }",
            {"recipientIds": [gid(ana)], "text": "still there?"},
            token=token_for(bo, settings),
        )
        event = await receive(ws)
    finally:
        await ws.close()
    assert "still there?" not in json.dumps(event)
    assert event["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
