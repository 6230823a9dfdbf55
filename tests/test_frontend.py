"""A browser app on another origin, as a frontend team writes it (tests/frontend: Apollo Client,
apollo-upload-client and graphql-ws, served by Vite on http://localhost:5173 with no proxy),
in headless Chromium against the live server: it signs in, pages the feed, uploads a photo
through the multipart spec and gets a notification over its subscription."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from config.runtime import Runtime
from config.settings import PROJECT_ROOT, Settings
from domain.media.models import Media
from resolvers.global_ids import parse_global_id, to_global_id
from tests.client import GraphQLClient
from tests.conftest import FRONTEND_ORIGIN
from tests.factories import create_post, gid, make_media, make_user, token_for
from tests.jobs import drain
from tests.servers import wait_for_port
from tests.test_graphiql import CHROMIUM, _browser_missing
from workers.queues import DEFAULT_QUEUE, FANOUT_QUEUE

APP = PROJECT_ROOT / "tests" / "frontend"
VITE = APP / "node_modules" / "vite" / "bin" / "vite.js"
PASSWORD = "a-frontend-password-1"


def _missing() -> str | None:
    if not VITE.exists():
        return "the frontend app's packages are not installed (make install)"
    return _browser_missing()


async def _line(stream: asyncio.StreamReader, lines: list[str]) -> str:
    raw = await asyncio.wait_for(stream.readline(), timeout=60)
    assert raw, f"the browser stopped; it said: {lines}"
    line = raw.decode().strip()
    lines.append(line)
    assert not line.startswith(("ERROR", "BLOCKED")), lines
    return line


async def test_a_vite_app_on_its_own_origin_signs_in_pages_uploads_and_subscribes(
    client: GraphQLClient, settings: Settings, runtime: Runtime, live_server: str
) -> None:
    missing = _missing()
    if missing and not os.environ.get("CI"):
        pytest.skip(missing)
    assert missing is None, missing  # CI installs all of it (.ci/run, make install)

    # given: ana, who follows bo, and bo's three posts in her feed
    registered = await client.mutate(
        "register",
        "user { id }",
        {"username": "front_ana", "email": "front_ana@example.com", "password": PASSWORD},
    )
    assert registered["errors"] == []
    bo = await make_user("front_bo")
    bo_token = token_for(bo, settings)
    ana_id = registered["user"]["id"]
    followed = await client.mutate(
        "follow", "status", {"userId": gid(bo)}, token=await _token(client, "front_ana")
    )
    assert followed["status"] == "ACTIVE"
    for n in range(3):
        await create_post(client, bo_token, [await make_media(bo)], f"bo {n}")
    await drain(FANOUT_QUEUE, settings=settings, runtime=runtime)

    vite = await asyncio.create_subprocess_exec(
        "node",
        str(VITE),
        "--config",
        "vite.config.js",
        cwd=APP,
        stdout=asyncio.subprocess.DEVNULL,
    )
    browser = None
    lines: list[str] = []
    try:
        await asyncio.to_thread(wait_for_port, 5173, timeout=30)
        browser = await asyncio.create_subprocess_exec(
            "node",
            str(PROJECT_ROOT / "tests" / "browser" / "frontend.mjs"),
            FRONTEND_ORIGIN,
            live_server,
            "front_ana",
            PASSWORD,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "CHROMIUM": CHROMIUM},
        )
        assert browser.stdout is not None
        # when: the app runs its steps
        assert await _line(browser.stdout, lines) == "SIGNED IN front_ana"
        assert await _line(browser.stdout, lines) == "FEED bo 2|bo 1|bo 0"
        uploaded = await _line(browser.stdout, lines)
        assert uploaded.startswith("UPLOADED ")
        assert await _line(browser.stdout, lines) == "SUBSCRIBED"
        # then: the upload is ana's, and a follow reaches her subscription
        media_id = uploaded.split()[1]
        owned = await Media.filter(owner_id=parse_global_id(ana_id)[1])
        assert [to_global_id("Media", m.id) for m in owned] == [media_id]
        notified = None
        for _ in range(3):  # the subscription may still be settling in: follow again
            await client.mutate("unfollow", "user { id }", {"userId": ana_id}, token=bo_token)
            await client.mutate("follow", "status", {"userId": ana_id}, token=bo_token)
            await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)
            with contextlib.suppress(TimeoutError):
                notified = await asyncio.wait_for(_line(browser.stdout, lines), timeout=5)
                break
        assert notified == "NOTIFIED FOLLOW front_bo", lines
    finally:
        if browser is not None and browser.returncode is None:
            assert browser.stdin is not None
            browser.stdin.close()
            try:
                await asyncio.wait_for(browser.wait(), timeout=20)
            except TimeoutError:
                browser.kill()
        vite.terminate()
        await asyncio.wait_for(vite.wait(), timeout=10)


async def _token(client: GraphQLClient, username: str) -> str:
    signed_in = await client.mutate(
        "login", "accessToken", {"usernameOrEmail": username, "password": PASSWORD}
    )
    token: str = signed_in["accessToken"]
    return token
