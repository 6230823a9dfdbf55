"""The HTTP surface: GraphQL over HTTP, GraphiQL, guard rails, health and metrics."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets
from redis.asyncio import Redis
from websockets.typing import Origin, Subprotocol

from config.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import FRONTEND_ORIGIN, LIVE_MAX_DEPTH
from tests.factories import make_user, token_for
from tests.ws import ws_url

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_get_runs_queries(client: GraphQLClient) -> None:
    await make_user("ana")
    response = await client.http.get(
        "/graphql",
        params={"query": '{ user(username: "ana") { username } }'},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"user": {"username": "ana"}}


async def test_get_refuses_mutations(client: GraphQLClient) -> None:
    response = await client.http.get(
        "/graphql",
        params={"query": 'mutation { logout(input: {refreshToken: "x"}) { revoked } }'},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 405


async def test_unparseable_body_is_400(client: GraphQLClient) -> None:
    response = await client.http.post(
        "/graphql", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


async def test_validation_errors_with_application_json_are_200(client: GraphQLClient) -> None:
    response = await client.post("{ nosuchfield }")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "nosuchfield" in response.json()["errors"][0]["message"]


async def test_graphql_response_json_gets_spec_status_codes(client: GraphQLClient) -> None:
    headers = {"Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
    bad = await client.post("{ nosuchfield }", headers=headers)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    syntax = await client.post("{ viewer { ", headers=headers)
    assert syntax.status_code == 400
    good = await client.post("{ viewer { id } }", headers=headers)
    assert good.status_code == 200
    assert good.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert good.json()["data"] == {"viewer": None}
    # An error while executing keeps 200: there is data (with a null) to return.
    partial = await client.post('{ node(id: "%%") { id } }', headers=headers)
    assert partial.status_code == 200
    assert partial.json()["data"] == {"node": None}


async def test_graphiql_for_browsers(client: GraphQLClient) -> None:
    response = await client.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
    # Its subscriptions authenticate with the headers pane, sent in connection_init.
    assert "wsConnectionParams: headers" in response.text


async def test_query_depth_is_limited(client: GraphQLClient) -> None:
    nested = "followers { edges { node { " * LIVE_MAX_DEPTH + "id" + " } } }" * LIVE_MAX_DEPTH
    for _ in range(2):  # the second time, from the cache of validated documents
        body = await client.raw(f'{{ user(username: "ana") {{ {nested} }} }}')
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]
        assert body.get("data") is None


async def test_aliases_are_limited(client: GraphQLClient) -> None:
    aliases = " ".join(f"a{i}: viewer {{ id }}" for i in range(40))
    for _ in range(2):
        body = await client.raw(f"{{ {aliases} }}")
        assert "aliases" in body["errors"][0]["message"].lower()


async def test_tokens_are_limited(client: GraphQLClient) -> None:
    fields = " ".join("a" for _ in range(3_000))  # short names: under the length limit
    body = await client.raw(f"{{ {fields} }}")
    assert "token" in body["errors"][0]["message"].lower()


async def test_health_readiness_and_metrics(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "postgres": True, "redis": True}
        await http.post("/graphql", json={"query": "{ viewer { id } }"})
        metrics = await http.get("/metrics")
    assert metrics.status_code == 200
    assert 'shutter_http_requests_total{route="/graphql",status="200"}' in metrics.text
    assert "shutter_http_request_seconds_bucket" in metrics.text


async def test_unexpected_errors_are_masked(client: GraphQLClient, redis: Redis) -> None:
    # A corrupt cache entry makes the user loader fail inside the server.
    ana = await make_user("ana")
    await redis.set(f"c:user:{{{ana.id}}}", '{"password_hash": "secret-internal-detail"}')
    body = await client.raw('{ user(username: "ana") { username } }')
    assert body["errors"] == [
        {
            "message": "Unexpected error.",
            "locations": [{"line": 1, "column": 3}],
            "path": ["user"],
        }
    ]
    assert "secret-internal-detail" not in str(body)


async def test_a_browser_app_on_an_allowed_origin_may_call_the_api(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        for path, method, headers in [
            ("/graphql", "POST", "authorization, content-type"),
            ("/graphql", "POST", "content-type, apollo-require-preflight"),  # an upload
            ("/uploads/originals/1/2/original", "PUT", "content-type"),
            ("/media/m/1/2/w640.jpg", "GET", "range"),
        ]:
            # when: the browser asks first
            preflight = await http.options(
                path,
                headers={
                    "origin": FRONTEND_ORIGIN,
                    "access-control-request-method": method,
                    "access-control-request-headers": headers,
                },
            )
            # then: it may send what it asked for
            assert preflight.status_code == 200, (path, preflight.text)
            assert preflight.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
            assert method in preflight.headers["access-control-allow-methods"]
            allowed = preflight.headers["access-control-allow-headers"].lower()
            for header in headers.split(", "):
                assert header in allowed, (path, header)

        # and the answer itself is readable by the page, Retry-After included
        answer = await http.post(
            "/graphql", json={"query": "{ viewer { id } }"}, headers={"origin": FRONTEND_ORIGIN}
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
        assert "retry-after" in answer.headers["access-control-expose-headers"].lower()


async def test_another_origin_is_not_let_in(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        preflight = await http.options(
            "/graphql",
            headers={
                "origin": "https://evil.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        answer = await http.post(
            "/graphql",
            json={"query": "{ viewer { id } }"},
            headers={"origin": "https://evil.example"},
        )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in answer.headers  # the browser keeps it from the page


async def test_websockets_open_from_the_allowed_origins_only(
    live_server: str, settings: Settings
) -> None:
    init = json.dumps(
        {
            "type": "connection_init",
            "payload": {"authorization": f"Bearer {token_for(await make_user(), settings)}"},
        }
    )
    url = ws_url(live_server)
    async with websockets.connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], origin=Origin(FRONTEND_ORIGIN)
    ) as ws:
        await ws.send(init)
        assert json.loads(await ws.recv())["type"] == "connection_ack"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            origin=Origin("https://evil.example"),
        )
    assert refused.value.response.status_code == 403  # refused at the handshake
