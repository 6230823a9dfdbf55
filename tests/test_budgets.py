"""Per-action budgets per account: shared by every process, tighter for new accounts, a 429
with Retry-After when they refuse a whole request, and a refused action costs nothing."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from config.runtime import Runtime
from config.settings import ConfigError, Settings, load_settings
from domain.budgets import Budget, Budgets, parse_budgets
from domain.errors import DomainError
from domain.users.models import User
from resolvers import messaging
from tests.client import GraphQLClient
from tests.factories import context_for, follow, gid, make_user, token_for

UPLOAD = "createUpload"
JPEG = {"kind": "IMAGE", "contentType": "image/jpeg", "byteSize": 1000}


def load_settings_with(env: dict[str, str]) -> Settings:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        return load_settings()
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def test_budgets_are_configurable_and_checked() -> None:
    budgets = parse_budgets("follow=10/1h, upload=5/90s")
    assert budgets["follow"] == Budget(10, 3_600)
    assert budgets["upload"] == Budget(5, 90)
    assert budgets["post"] == Budget(100, 3 * 3_600)  # a default
    for bad in ("follow=10", "likes=1/1h", "follow=ten/1h"):
        with pytest.raises(ValueError, match="action=uses/window"):
            parse_budgets(bad)
    with pytest.raises(ConfigError, match="ACTION_BUDGETS"):
        load_settings_with({"ACTION_BUDGETS": "nope"})


async def _uploads(client: GraphQLClient, token: str, count: int) -> list[dict[str, object]]:
    return [await client.mutate(UPLOAD, "media { id }", JPEG, token=token) for _ in range(count)]


async def test_a_new_account_gets_a_quarter_and_a_429_past_it(
    client: GraphQLClient, settings: Settings
) -> None:
    new, old = await make_user("new"), await make_user("old")
    await User.filter(id=old.id).update(created_at=datetime.now(UTC) - timedelta(days=8))
    new_t, old_t = token_for(new, settings), token_for(old, settings)
    # a refused action gives its use back
    for _ in range(10):
        bad = await client.mutate(
            UPLOAD, "media { id }", {**JPEG, "contentType": "text/plain"}, token=new_t
        )
        assert bad["errors"][0]["code"] == "INVALID_INPUT"
    allowed = 30 // 4
    assert all(u["errors"] == [] for u in await _uploads(client, new_t, allowed))
    response = await client.post(
        "mutation($i: CreateUploadInput!) { createUpload(input: $i)"
        " { media { id } errors { code message retryAfterSeconds } } }",
        {"i": JPEG},
        token=new_t,
    )
    assert response.status_code == 429
    [error] = response.json()["data"]["createUpload"]["errors"]
    assert error["code"] == "RATE_LIMITED"
    assert "7 uploads in 30 minutes" in error["message"]
    assert 1_700 < error["retryAfterSeconds"] <= 1_800
    assert response.headers["retry-after"] == str(error["retryAfterSeconds"])
    # an account older than a week has the whole budget
    assert all(u["errors"] == [] for u in await _uploads(client, old_t, allowed + 1))


async def test_the_window_slides(redis: Redis) -> None:
    budgets = Budgets(redis, {"post": Budget(2, 1)})
    old = datetime.now(UTC) - timedelta(days=30)
    await budgets.spend("post", user_id=1, account_created_at=old)
    await budgets.spend("post", user_id=1, account_created_at=old)
    with pytest.raises(DomainError) as refused:
        await budgets.spend("post", user_id=1, account_created_at=old)
    assert getattr(refused.value, "retry_after_seconds", 0) == 1
    await budgets.spend("post", user_id=2, account_created_at=old)  # per account
    await asyncio.sleep(1.05)
    await budgets.spend("post", user_id=1, account_created_at=old)


async def test_messages_to_people_who_do_not_follow_you_come_out_of_a_budget(
    runtime: Runtime, redis: Redis
) -> None:
    ana, fan, stranger = await make_user("ana"), await make_user("fan"), await make_user("x")
    await follow(fan, ana, runtime.users)
    kept = runtime.budgets
    runtime.budgets = Budgets(redis, {"message": Budget(8, 3_600)})  # a new account: 2
    try:
        ctx = context_for(runtime, ana.id)

        async def send_to(user: User) -> None:
            await messaging.send(
                ctx,
                thread_id=None,
                recipient_ids=[gid(user)],
                text="hi",
                media_id=None,
                post_id=None,
                client_id=None,
            )

        for _ in range(2):
            await send_to(stranger)
        with pytest.raises(DomainError, match="limit of 2 messages"):
            await send_to(stranger)
        for _ in range(5):  # to a follower: no budget
            await send_to(fan)
    finally:
        runtime.budgets = kept
