"""Reports and moderation, as reporters, authors and moderators meet them on the live server."""

from __future__ import annotations

import asyncio
from typing import Any

from config.settings import Settings
from domain.moderation.models import ModerationAction
from domain.users.models import AccountStatus, User
from resolvers.global_ids import to_global_id
from tests.client import GraphQLClient
from tests.factories import create_post, follow, gid, make_media, make_user, token_for
from tests.test_cli import shutter

QUEUE = """{ moderationQueue { edges { node { kind targetId excerpt reportCount hidden reasons
  author { username } reports { edges { node { reason note reporter { username } } } } } } } }"""
RESOLVE = "case { resolution hidden }"


async def _report(client: GraphQLClient, token: str, **target: Any) -> dict[str, Any]:
    return await client.mutate(
        "reportContent", "reported", {"reason": "SPAM", **target}, token=token
    )


async def _post_seen(client: GraphQLClient, post_id: str, token: str | None) -> bool:
    data = await client.query(
        "query($id: ID!) { post(id: $id) { id } }", {"id": post_id}, token=token
    )
    return data["post"] is not None


async def test_enough_reports_hide_a_post_from_all_but_its_author(
    client: GraphQLClient, settings: Settings
) -> None:
    ana = await make_user("ana")
    ana_t = token_for(ana, settings)
    post = (await create_post(client, ana_t, [await make_media(ana)], "buy now"))["post"]["id"]
    reporters = [await make_user(f"r{i}") for i in range(settings.reports_to_hide)]
    tokens = [token_for(r, settings) for r in reporters]
    for token in tokens[:-1]:
        assert (await _report(client, token, postId=post, note="spam"))["errors"] == []
    # the same reporter again: one report per reporter
    assert (await _report(client, tokens[0], postId=post))["reported"] is True
    assert await _post_seen(client, post, tokens[0])
    await _report(client, tokens[-1], postId=post)
    assert not await _post_seen(client, post, tokens[0])
    assert not await _post_seen(client, post, None)
    assert await _post_seen(client, post, ana_t)  # its author still sees it

    own = await _report(client, ana_t, postId=post)
    assert own["errors"][0]["code"] == "INVALID_INPUT"
    two = await _report(client, tokens[0], postId=post, userId=gid(ana))
    assert {e["code"] for e in two["errors"]} == {"INVALID_INPUT"}


async def test_what_one_cannot_see_cannot_be_reported(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, bo = await make_user("ana", private=True), await make_user("bo")
    post = (await create_post(client, token_for(ana, settings), [await make_media(ana)]))["post"][
        "id"
    ]
    hidden = await _report(client, token_for(bo, settings), postId=post)
    missing = await _report(client, token_for(bo, settings), postId=to_global_id("Post", 9))
    assert hidden["errors"] == missing["errors"]
    assert hidden["errors"][0]["code"] == "NOT_FOUND"


async def test_only_moderators_see_the_queue_and_decide(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    post = (await create_post(client, token_for(ana, settings), [await make_media(ana)]))["post"][
        "id"
    ]
    await _report(client, token_for(bo, settings), postId=post)
    body = await client.raw(QUEUE, token=token_for(bo, settings))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    refused = await client.mutate(
        "resolveReport",
        RESOLVE,
        {"targetId": post, "action": "DISMISS"},
        token=token_for(bo, settings),
    )
    assert refused["errors"][0]["code"] == "FORBIDDEN"


async def test_a_moderator_dismisses_removes_and_suspends(
    client: GraphQLClient, settings: Settings, runtime: Any
) -> None:
    ana, bo, mod = await make_user("ana"), await make_user("bo"), await make_user("mod")
    granted = await asyncio.to_thread(shutter, "moderator", "add", "mod", settings=settings)
    assert granted.returncode == 0, granted.stderr
    assert (await User.get(id=mod.id)).is_moderator
    ana_t, bo_t, mod_t = (token_for(u, settings) for u in (ana, bo, mod))
    await follow(bo, ana, runtime.users)
    post = (await create_post(client, ana_t, [await make_media(ana)], "hello"))["post"]["id"]
    comment = (
        await client.mutate(
            "addComment", "comment { id }", {"postId": post, "text": "you are awful"}, token=bo_t
        )
    )["comment"]["id"]
    await _report(client, bo_t, postId=post)
    await client.mutate(
        "reportContent",
        "reported",
        {"reason": "HARASSMENT", "commentId": comment, "note": "rude"},
        token=ana_t,
    )
    queue = (await client.query(QUEUE, token=mod_t))["moderationQueue"]["edges"]
    assert [e["node"]["kind"] for e in queue] == ["COMMENT", "POST"]
    assert queue[0]["node"]["excerpt"] == "you are awful"
    assert queue[0]["node"]["author"] == {"username": "bo"}
    assert queue[0]["node"]["reports"]["edges"] == [
        {"node": {"reason": "HARASSMENT", "note": "rude", "reporter": {"username": "ana"}}}
    ]

    dismissed = await client.mutate(
        "resolveReport",
        RESOLVE,
        {"targetId": post, "action": "DISMISS", "note": "fine"},
        token=mod_t,
    )
    assert dismissed == {"case": {"resolution": "DISMISS", "hidden": False}, "errors": []}
    removed = await client.mutate(
        "resolveReport",
        RESOLVE,
        {"targetId": comment, "action": "REMOVE", "note": "abuse"},
        token=mod_t,
    )
    assert removed["errors"] == []
    read = await client.query(
        "query($id: ID!) { post(id: $id) { commentCount comments { edges { node { id } } } } }",
        {"id": post},
        token=ana_t,
    )
    assert read["post"] == {"commentCount": 0, "comments": {"edges": []}}
    assert (await client.query(QUEUE, token=mod_t))["moderationQueue"]["edges"] == []

    # bo is suspended: signed out at once, hidden everywhere, his messages gone from threads
    thread = (
        await client.mutate(
            "sendMessage",
            "message { thread { id } }",
            {"recipientIds": [gid(ana)], "text": "buy my stuff"},
            token=bo_t,
        )
    )["message"]["thread"]["id"]
    await _report(client, ana_t, userId=gid(bo))
    suspended = await client.mutate(
        "resolveReport",
        RESOLVE,
        {"targetId": gid(bo), "action": "SUSPEND_AUTHOR", "note": "spammer"},
        token=mod_t,
    )
    assert suspended["errors"] == []
    assert (await client.post("{ viewer { id } }", token=bo_t)).status_code == 401
    assert (await User.get(id=bo.id)).status is AccountStatus.SUSPENDED
    seen = await client.query(
        'query($t: ID!) { user(username: "bo") { id } thread: node(id: $t) { ... on Thread {'
        " messages { edges { node { text } } } } } }",
        {"t": thread},
        token=ana_t,
    )
    assert seen == {"user": None, "thread": {"messages": {"edges": []}}}
    login = await client.mutate(
        "login", "accessToken", {"usernameOrEmail": "bo", "password": "correct horse battery"}
    )
    assert login["errors"][0]["code"] == "FORBIDDEN"
    assert "suspended" in login["errors"][0]["message"]
    # every decision is recorded: who, when, why
    record = (
        await ModerationAction.filter(moderator_id=mod.id)
        .order_by("id")
        .values_list("action", "note")
    )
    assert record == [("DISMISS", "fine"), ("REMOVE", "abuse"), ("SUSPEND_AUTHOR", "spammer")]
