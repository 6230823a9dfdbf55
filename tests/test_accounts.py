"""Accounts end to end: a live server driven over HTTP, as a frontend would."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest

from config.settings import Settings
from domain.users.models import RefreshToken, User
from domain.users.tokens import create_access_token
from tests.client import GraphQLClient
from tests.conftest import LIVE_AUTH_RATE_LIMIT
from tests.factories import PASSWORD, make_user, token_for

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

AUTH = "accessToken refreshToken user { id username fullName followerCount }"
VIEWER = "{ viewer { username bio isPrivate } }"


async def register(
    client: GraphQLClient,
    username: str,
    email: str | None = None,
    password: str = "a-long-Secret-9",  # noqa: S107
) -> dict:
    return await client.mutate(
        "register",
        AUTH,
        {
            "username": username,
            "email": email or f"{username.lower()}@example.test",
            "password": password,
        },
    )


async def test_register_signs_in_and_viewer_answers(client: GraphQLClient) -> None:
    payload = await register(client, "Ana.Lima")

    assert payload["errors"] == []
    assert payload["user"]["username"] == "ana.lima"  # stored lower-cased
    data = await client.query(VIEWER, token=payload["accessToken"])
    assert data["viewer"] == {"username": "ana.lima", "bio": "", "isPrivate": False}


async def test_signed_out_viewer_is_null(client: GraphQLClient) -> None:
    assert (await client.query(VIEWER))["viewer"] is None


async def test_usernames_are_unique_without_regard_to_case(client: GraphQLClient) -> None:
    await register(client, "ana")
    payload = await register(client, "ANA", email="other@example.test")
    assert payload["accessToken"] is None
    assert payload["errors"] == [
        {
            "field": "username",
            "code": "USERNAME_TAKEN",
            "message": "This username is taken; try another one.",
        }
    ]
    assert await User.all().count() == 1


async def test_duplicate_email_is_refused(client: GraphQLClient) -> None:
    await register(client, "ana", email="ana@example.test")
    payload = await register(client, "bo", email="ANA@example.test")
    assert [e["code"] for e in payload["errors"]] == ["EMAIL_TAKEN"]
    assert await User.all().count() == 1


async def test_every_bad_field_is_reported_and_nothing_written(client: GraphQLClient) -> None:
    payload = await register(client, "no spaces!", email="not-an-email", password="short")
    assert {(e["field"], e["code"]) for e in payload["errors"]} == {
        ("username", "INVALID_INPUT"),
        ("email", "INVALID_INPUT"),
        ("password", "WEAK_PASSWORD"),
    }
    assert await User.all().count() == 0


async def test_username_rules(client: GraphQLClient) -> None:
    for bad in ["", "a" * 31, "dots..twice", ".leading", "emoji😀", "dash-ed"]:
        payload = await register(client, bad, email="x@example.test")
        assert payload["errors"][0]["field"] == "username", bad
    assert await User.all().count() == 0
    ok = await register(client, "a" * 30)
    assert ok["errors"] == []


async def test_weak_passwords_are_refused(client: GraphQLClient) -> None:
    for weak in ["password123", "aaaaaaaaaaaa", "carla-rocks-99"]:
        payload = await register(client, "carla", password=weak)
        assert [e["code"] for e in payload["errors"]] == ["WEAK_PASSWORD"], weak
    assert await User.all().count() == 0


async def test_login_by_username_or_email(client: GraphQLClient) -> None:
    await make_user("bo")
    by_name = await client.mutate("login", AUTH, {"usernameOrEmail": "BO", "password": PASSWORD})
    by_mail = await client.mutate(
        "login", AUTH, {"usernameOrEmail": "bo@example.test", "password": PASSWORD}
    )
    assert by_name["user"]["username"] == by_mail["user"]["username"] == "bo"
    assert by_name["accessToken"]
    assert by_mail["accessToken"]


async def test_wrong_password_and_unknown_user_look_the_same(client: GraphQLClient) -> None:
    await make_user("bo")
    wrong = await client.mutate("login", AUTH, {"usernameOrEmail": "bo", "password": "nope-nope"})
    unknown = await client.mutate(
        "login", AUTH, {"usernameOrEmail": "nobody", "password": PASSWORD}
    )
    assert (
        wrong["errors"]
        == unknown["errors"]
        == [
            {
                "field": "password",
                "code": "INVALID_CREDENTIALS",
                "message": "The username or password is not right.",
            }
        ]
    )
    assert wrong["accessToken"] is None
    assert await RefreshToken.all().count() == 0


async def test_refresh_rotates_and_a_replayed_token_revokes_the_family(
    client: GraphQLClient,
) -> None:
    first = await register(client, "ana")
    second = await client.mutate("refreshToken", AUTH, {"refreshToken": first["refreshToken"]})
    assert second["errors"] == []
    assert second["refreshToken"] != first["refreshToken"]
    assert (await client.query(VIEWER, token=second["accessToken"]))["viewer"]["username"] == "ana"

    # The first token was used: presenting it again means someone copied it.
    replay = await client.mutate("refreshToken", AUTH, {"refreshToken": first["refreshToken"]})
    assert [e["code"] for e in replay["errors"]] == ["INVALID_TOKEN"]
    # ... and the whole family is now revoked, the legitimate newest token included.
    after = await client.mutate("refreshToken", AUTH, {"refreshToken": second["refreshToken"]})
    assert [e["code"] for e in after["errors"]] == ["INVALID_TOKEN"]


async def test_logout_revokes_the_refresh_token(client: GraphQLClient) -> None:
    tokens = await register(client, "ana")
    out = await client.mutate("logout", "revoked", {"refreshToken": tokens["refreshToken"]})
    assert out == {"revoked": True, "errors": []}
    again = await client.mutate("refreshToken", AUTH, {"refreshToken": tokens["refreshToken"]})
    assert [e["code"] for e in again["errors"]] == ["INVALID_TOKEN"]


async def test_unknown_refresh_token(client: GraphQLClient) -> None:
    payload = await client.mutate("refreshToken", AUTH, {"refreshToken": "made-up"})
    assert payload["errors"][0]["code"] == "INVALID_TOKEN"
    assert payload["errors"][0]["field"] == "refreshToken"


async def test_forged_and_expired_tokens_get_401(client: GraphQLClient, settings: Settings) -> None:
    user = await make_user("ana")
    forged = jwt.encode(
        {
            "sub": str(user.id),
            "typ": "access",
            "iss": "shutter",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        "an-attacker-secret-of-32-bytes-or-more",
        algorithm="HS256",
    )
    expired = jwt.encode(
        {
            "sub": str(user.id),
            "typ": "access",
            "iss": "shutter",
            "iat": int(time.time()) - 120,
            "exp": int(time.time()) - 60,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    for token, message in [(forged, "not valid"), (expired, "expired"), ("garbage", "not valid")]:
        response = await client.post(VIEWER, token=token)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert message in response.json()["errors"][0]["message"]
    response = await client.post(VIEWER, headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


async def test_a_token_accepted_before_is_refused_once_it_expires(
    client: GraphQLClient, settings: Settings
) -> None:
    # given: a token that lives two seconds, used once (the server remembers it as verified)
    user = await make_user("ana")
    token = create_access_token(user_id=user.id, secret=settings.jwt_secret, ttl_seconds=2)
    assert (await client.post(VIEWER, token=token)).status_code == 200

    # when: it has expired
    await asyncio.sleep(2.1)
    response = await client.post(VIEWER, token=token)

    # then
    assert response.status_code == 401
    assert "expired" in response.json()["errors"][0]["message"]


async def test_update_profile(client: GraphQLClient, settings: Settings) -> None:
    user = await make_user("ana")
    token = token_for(user, settings)
    payload = await client.mutate(
        "updateProfile",
        "user { fullName bio isPrivate }",
        {"fullName": "  Ana   Lima ", "bio": "Film cameras.", "isPrivate": True},
        token=token,
    )
    assert payload == {
        "user": {"fullName": "Ana Lima", "bio": "Film cameras.", "isPrivate": True},
        "errors": [],
    }
    # The cached copy was invalidated: a fresh read shows the change.
    viewer = await client.query(VIEWER, token=token)
    assert viewer["viewer"]["bio"] == "Film cameras."


async def test_update_profile_refuses_bad_input_and_changes_nothing(
    client: GraphQLClient, settings: Settings
) -> None:
    user = await make_user("ana", bio="before")
    token = token_for(user, settings)
    payload = await client.mutate(
        "updateProfile", "user { bio }", {"bio": "x" * 151, "fullName": "Ana"}, token=token
    )
    assert payload["user"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("bio", "INVALID_INPUT")]
    stored = await User.get(id=user.id)
    assert (stored.bio, stored.full_name) == ("before", "")


async def test_update_profile_needs_a_signed_in_viewer(client: GraphQLClient) -> None:
    payload = await client.mutate("updateProfile", "user { bio }", {"bio": "hi"})
    assert [e["code"] for e in payload["errors"]] == ["UNAUTHENTICATED"]


async def test_login_attempts_are_rate_limited(client: GraphQLClient) -> None:
    await make_user("bo")
    attempts = [
        client.mutate("login", "accessToken", {"usernameOrEmail": "bo", "password": "wrong-pw"})
        for _ in range(LIVE_AUTH_RATE_LIMIT + 3)
    ]
    results = await asyncio.gather(*attempts)
    codes = [r["errors"][0]["code"] for r in results]
    assert codes.count("RATE_LIMITED") >= 3
    assert codes.count("INVALID_CREDENTIALS") <= LIVE_AUTH_RATE_LIMIT


async def test_only_failed_sign_ins_count_and_the_refusal_says_when_to_retry(
    client: GraphQLClient,
) -> None:
    await make_user("cy")
    login = """mutation ($u: String!, $p: String!) { login(input: {usernameOrEmail: $u,
      password: $p}) { accessToken errors { code message retryAfterSeconds } } }"""

    async def attempt(password: str) -> httpx.Response:
        return await client.post(login, {"u": "cy", "p": password})

    # given: more correct sign-ins than any limit, one after another
    for _ in range(LIVE_AUTH_RATE_LIMIT + 5):
        ok = await attempt(PASSWORD)
        assert ok.json()["data"]["login"]["errors"] == []

    # and: failures short of the account's limit, then a success, which forgets them (all in
    # one window of the lock: by the clock, one that ends midway starts the count again)
    lock = Settings().login_lock_seconds
    if (left := lock - time.time() % lock) < 20:
        await asyncio.sleep(left + 0.1)
    failures = Settings().login_max_failures
    for _ in range(failures - 1):
        assert (await attempt("not-the-password")).json()["data"]["login"]["errors"]
    assert (await attempt(PASSWORD)).json()["data"]["login"]["errors"] == []

    # when: as many failures as the limit (from wherever they come)
    for _ in range(failures):
        failed = (await attempt("not-the-password")).json()["data"]["login"]["errors"]
        assert [e["code"] for e in failed] == ["INVALID_CREDENTIALS"]

    # then: the account is locked, the right password refused too, with when to try again
    refused = await attempt(PASSWORD)
    assert refused.status_code == 429  # the request's only field was refused
    (error,) = refused.json()["data"]["login"]["errors"]
    assert error["code"] == "RATE_LIMITED"
    assert "locked" in error["message"]
    assert 0 < error["retryAfterSeconds"] <= lock
    assert refused.headers["retry-after"] == str(error["retryAfterSeconds"])
