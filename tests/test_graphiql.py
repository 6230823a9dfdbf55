"""GraphiQL in a real browser (Debian's Chromium, driven by playwright-core) with every request
outside the server refused: it loads from Shutter alone, runs a query and a subscription whose
token comes from its headers pane."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from config.graphiql import PACKAGES
from config.runtime import Runtime
from config.settings import PROJECT_ROOT, Settings
from tests.client import GraphQLClient
from tests.factories import gid, make_user, token_for
from tests.jobs import drain
from workers.queues import DEFAULT_QUEUE

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _browser_missing() -> str | None:
    if shutil.which("node") is None:
        return "no node"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM}"
    if not (PACKAGES / "playwright-core").is_dir():
        return "playwright-core is not installed (make install)"
    return None


async def test_graphiql_works_offline_with_a_query_and_a_subscription(
    client: GraphQLClient, settings: Settings, runtime: Runtime, live_server: str
) -> None:
    missing = _browser_missing()
    if missing and not os.environ.get("CI"):
        pytest.skip(missing)
    assert missing is None, missing  # CI installs all of it (.ci/run)
    ana, bo = await make_user("graphiql_ana"), await make_user("graphiql_bo")
    browser = await asyncio.create_subprocess_exec(
        "node",
        str(PROJECT_ROOT / "tests" / "browser" / "graphiql.mjs"),
        live_server,
        token_for(ana, settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert browser.stdout is not None
    lines: list[str] = []
    try:
        # when: GraphiQL has run the query and subscribed, someone follows ana
        while not lines or lines[-1] != "SUBSCRIBED":
            line = await asyncio.wait_for(browser.stdout.readline(), timeout=90)
            assert line, (lines, (await browser.stderr.read()).decode() if browser.stderr else "")
            lines.append(line.decode().strip())
        await client.mutate("follow", "status", {"userId": gid(ana)}, token=token_for(bo, settings))
        await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)
        rest, errors = await asyncio.wait_for(browser.communicate(), timeout=60)
    finally:
        if browser.returncode is None:
            browser.kill()
    lines += rest.decode().split("\n")
    assert browser.returncode == 0, errors.decode()

    # then: the query's result and the event were on the page, and nothing came from elsewhere
    said = {line.split(" ", 1)[0]: line.split(" ", 1)[-1] for line in lines if line}
    assert '"username": "graphiql_ana"' in said["QUERY"]
    assert '"kind": "FOLLOW"' in said["EVENT"]
    assert said["BLOCKED"] == "none"
