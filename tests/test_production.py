"""Production posture, on a live server started with ENVIRONMENT=production: introspection,
suggestions and GraphiQL off, /metrics behind its token, logs without secrets, and
X-Forwarded-For believed only from TRUSTED_PROXIES."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from config.settings import PROJECT_ROOT, Settings
from tests.conftest import LIVE_AUTH_RATE_LIMIT, _start_server, _stop, live_env
from tests.factories import PASSWORD, make_user
from tests.servers import free_port

METRICS_TOKEN = secrets.token_urlsafe(16)
SECRET = "hunter2-do-not-log-me"
LOG = "production-server.log"


@pytest.fixture(scope="module")
def production_server(settings: Settings) -> Iterator[str]:
    port = free_port()
    env = {
        **live_env(settings),
        "ENVIRONMENT": "production",
        "JWT_SECRET": secrets.token_urlsafe(32),
        "METRICS_TOKEN": METRICS_TOKEN,
        "TRUSTED_PROXIES": "127.0.0.1",
        "LOG_LEVEL": "INFO",
    }
    process = _start_server(port, env, LOG)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def _log() -> str:
    return (PROJECT_ROOT / ".data" / LOG).read_text()


async def test_introspection_and_suggestions_are_off(production_server: str) -> None:
    async with httpx.AsyncClient(base_url=production_server) as http:
        schema = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert "introspection" in schema.json()["errors"][0]["message"].lower()
        typo = await http.post("/graphql", json={"query": "{ viewr { id } }"})
        message = typo.json()["errors"][0]["message"]
        assert "viewr" in message
        assert "Did you mean" not in message
        typename = await http.post("/graphql", json={"query": "{ __typename }"})
        assert typename.json()["data"] == {"__typename": "Query"}
        assert "cost" not in typename.json().get("extensions", {})


async def test_graphiql_is_off_and_metrics_need_the_token(production_server: str) -> None:
    async with httpx.AsyncClient(base_url=production_server) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        assert (await http.get("/graphiql-assets/graphiql.min.js")).status_code == 404
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert right.status_code == 200
        assert "shutter_http_requests_total" in right.text


async def test_logs_hold_no_literal_and_no_traceback_for_client_errors(
    production_server: str,
) -> None:
    async with httpx.AsyncClient(base_url=production_server) as http:
        for query in (
            f'mutation {{ login(input: {{usernameOrEmail: "x", password: 1234567}}) {{ errors'
            f' {{ code }} }} }} # "{SECRET}"',
            f'mutation {{ login(input: {{usernameOrEmail: "x", password: "{SECRET}" }}',
            f'{{ user(username: "{SECRET}") {{ nosuchfield }} }}',
        ):
            response = await http.post("/graphql", json={"query": query})
            assert response.status_code in {200, 400}
        await http.get("/graphql", params={"query": f'{{ user(username: "{SECRET}") {{ id }} }}'})
        variables = {"input": {"usernameOrEmail": "x", "password": 12345678}}
        await http.post(
            "/graphql",
            json={
                "query": "mutation($input: LoginInput!) { login(input: $input) { accessToken } }",
                "variables": variables,
            },
        )
    log = _log()
    assert "refused" in log  # the errors were logged, each as one line
    assert SECRET not in log
    assert "1234567" not in log
    assert "12345678" not in log
    assert "Traceback" not in log


async def test_forwarded_for_only_from_trusted_proxies(
    production_server: str, live_server: str
) -> None:
    """Failed sign-ups count per address: behind a trusted proxy each forwarded address has
    its own budget; from an untrusted peer (the test server trusts none) the header is
    ignored, so a client cannot pick a fresh address for each try."""

    async def refused_after(base_url: str, addresses: list[str]) -> int:
        async with httpx.AsyncClient(base_url=base_url) as http:
            for attempt in range(LIVE_AUTH_RATE_LIMIT + 5):
                address = addresses[attempt % len(addresses)]
                response = await http.post(
                    "/graphql",
                    json={
                        "query": 'mutation { register(input: {username: "!", email: "x",'
                        ' password: "x"}) { errors { code } } }'
                    },
                    headers={"X-Forwarded-For": address},
                )
                codes = [e["code"] for e in response.json()["data"]["register"]["errors"]]
                if codes == ["RATE_LIMITED"]:
                    return attempt
        return -1

    spoofed = [f"203.0.113.{i}" for i in range(1, 100)]
    assert await refused_after(live_server, spoofed) == LIVE_AUTH_RATE_LIMIT
    assert await refused_after(production_server, spoofed) == -1
    assert await refused_after(production_server, ["198.51.100.7"]) == LIVE_AUTH_RATE_LIMIT


def test_trusted_proxy_chain_is_read_from_the_right() -> None:
    from ipaddress import ip_network

    from config.proxies import client_address

    trusted = [ip_network("10.0.0.0/8")]
    assert client_address("10.0.0.1", "1.1.1.1, 2.2.2.2", trusted) == "2.2.2.2"
    assert client_address("10.0.0.1", "1.1.1.1, 10.0.0.9", trusted) == "1.1.1.1"
    assert client_address("8.8.8.8", "1.1.1.1", trusted) == "8.8.8.8"
    assert client_address("10.0.0.1", "garbage", trusted) == "10.0.0.1"
    assert client_address("10.0.0.1", None, trusted) == "10.0.0.1"


def test_access_lines_lose_their_query_strings() -> None:
    import logging

    from config.logging import configure_logging

    configure_logging("INFO")
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/graphql?query={SECRET}", "1.1", 200),
        None,
    )
    for check in logging.getLogger("uvicorn.access").filters:
        check.filter(record)  # type: ignore[union-attr]
    assert SECRET not in record.getMessage()
    assert "/graphql?" in record.getMessage()


async def test_an_account_locks_after_failures_from_many_addresses(
    production_server: str,
) -> None:
    """Behind a trusted proxy each try comes from another address: the per-address limit
    never trips, the account's own does, and then the right password is refused too."""
    await make_user("target")
    lock = Settings().login_lock_seconds
    if (left := lock - time.time() % lock) < 10:  # one window of the lock, by the clock
        await asyncio.sleep(left + 0.1)
    login = """mutation ($p: String!) { login(input: {usernameOrEmail: "target", password: $p})
      { accessToken errors { code } } }"""
    async with httpx.AsyncClient(base_url=production_server) as http:

        async def attempt(password: str, address: str) -> list[str]:
            response = await http.post(
                "/graphql",
                json={"query": login, "variables": {"p": password}},
                headers={"X-Forwarded-For": address},
            )
            return [e["code"] for e in response.json()["data"]["login"]["errors"]]

        for i in range(Settings().login_max_failures):
            assert await attempt("wrong", f"198.51.100.{i + 1}") == ["INVALID_CREDENTIALS"]
        assert await attempt(PASSWORD, "203.0.113.200") == ["RATE_LIMITED"]
