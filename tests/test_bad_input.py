"""Bad input against the live server: a clear 4xx or a typed error, never a 5xx, never a
masked "Unexpected error." where the input was at fault, and nothing written."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from config.settings import Settings
from domain.posts.models import Comment, Post
from domain.users.models import User
from resolvers.global_ids import parse_global_id
from tests.client import GraphQLClient
from tests.factories import create_post, gid, make_media, make_user, token_for


def _gid(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("body", [b"null", b"1", b'"query"', b"[]", b"true", b"[1]"])
async def test_a_json_body_that_is_not_an_object_is_400(client: GraphQLClient, body: bytes) -> None:
    response = await client.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "raw",
    [
        "User:99999999999999999999",  # past 64 bits
        "User:9223372036854775808",  # 2**63
        "User:²",  # a digit to str.isdigit, not to int()
        "User:\uff11\uff12",  # full-width digits
        "User:-1",
        "Üser:1",
    ],
)
async def test_ids_outside_64_bits_or_ascii_digits_are_invalid_id(
    client: GraphQLClient, raw: str
) -> None:
    body = await client.raw("query($id: ID!) { node(id: $id) { id } }", {"id": _gid(raw)})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ID", body
    ana = await make_user("ana")
    client.token = token_for(ana, Settings(environment="test"))
    payload = await client.mutate("follow", "user { id }", {"userId": _gid(raw)})
    assert [e["code"] for e in payload["errors"]] == ["INVALID_ID"], payload


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("RECENT", "Value 'RECENT' does not exist in 'FeedOrder' enum."),
        (5, "Enum 'FeedOrder' cannot represent non-string value: 5."),
    ],
)
async def test_a_variable_of_a_wrong_value_is_told_so(
    client: GraphQLClient, settings: Settings, value: Any, says: str
) -> None:
    ana = await make_user("ana")
    body = await client.raw(
        "query($order: FeedOrder) { feed(order: $order) { edges { node { id } } } }",
        {"order": value},
        token=token_for(ana, settings),
    )
    assert [e["message"] for e in body["errors"]] == [
        f"Variable '$order' has invalid value: {says}"
    ], body
    assert body.get("data") is None


@pytest.mark.parametrize("raw", ["c:99999999999999999999", "c:²", "c:9223372036854775808"])
async def test_cursors_outside_64_bits_are_invalid_cursor(client: GraphQLClient, raw: str) -> None:
    await make_user("ana")
    body = await client.raw(
        'query($after: String) { user(username: "ana") { followers(first: 2, after: $after)'
        " { edges { cursor } } } }",
        {"after": _gid(raw)},
    )
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", body


@pytest.mark.parametrize(
    ("query", "variables", "code", "says"),
    [
        (
            "followers(first: 500)",
            {},
            "INVALID_INPUT",
            "'first' must be between 0 and 50; got 500.",
        ),
        ("followers(first: $n)", {"n": -1}, "INVALID_INPUT", "'first' must be between 0 and 50"),
        ('followers(after: "nope")', {}, "INVALID_CURSOR", "'after' is not a cursor"),
        ("posts(after: $cursor)", {"cursor": "x"}, "INVALID_CURSOR", "'after' is not a cursor"),
    ],
)
async def test_a_bad_page_on_a_nested_list_is_refused_before_it_runs(
    client: GraphQLClient, query: str, variables: dict[str, Any], code: str, says: str
) -> None:
    """Connections are non-null (API.md): found by the list's resolver, a bad page would null
    the user holding the list. It is refused with the request instead, pointing at the
    argument, and nothing runs; the same document with a good page answers whole."""
    await make_user("ana")
    declared = "".join(f"(${name}: {'Int' if name == 'n' else 'String'})" for name in variables)
    document = (
        f"query{declared}" + ' { user(username: "ana") { username %s { edges { cursor } } } }'
    )
    body = await client.raw(document % query, variables)
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, body
    assert says in error["message"], body
    column = (document % query).index(query.split("(")[1]) + 1
    assert error["locations"] == [{"line": 1, "column": column}], body
    field = query.split("(")[0]
    body = await client.raw(document.replace(declared, "") % f"{field}(first: 1)", {})
    assert body["data"] == {"user": {"username": "ana", field: {"edges": []}}}, body


async def test_a_bad_before_is_named_as_before(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    made = await create_post(client, token_for(ana, settings), [await make_media(ana)])
    body = await client.raw(
        'query($id: ID!) { post(id: $id) { comments(last: 2, before: "zz") { edges { cursor } } }'
        " }",
        {"id": made["post"]["id"]},
    )
    assert body.get("data") is None, body
    assert body["errors"][0]["message"] == "'before' is not a cursor from this list.", body


async def test_nul_characters_are_refused_before_anything_runs(
    client: GraphQLClient, settings: Settings
) -> None:
    ana = await make_user("ana")
    client.token = token_for(ana, settings)
    made = await create_post(client, client.token, [await make_media(ana)], "hello")
    post = await Post.get(id=parse_global_id(made["post"]["id"])[1])
    cases: list[tuple[str, dict[str, Any]]] = [
        (
            "mutation($input: AddCommentInput!) { addComment(input: $input) { errors { code } } }",
            {"input": {"postId": _gid(f"Post:{post.id}"), "text": "hi\x00there"}},
        ),
        (
            "query($q: String!) { search(query: $q) { users { edges { node { id } } } } }",
            {"q": "a\x00"},
        ),
        (
            "mutation($input: LoginInput!) { login(input: $input) { errors { code } } }",
            {"input": {"usernameOrEmail": "ana\x00", "password": "x"}},
        ),
        ('mutation { updateProfile(input: {bio: "a\\u0000b"}) { errors { code } } }', {}),
    ]
    for query, variables in cases:
        body = await client.raw(query, variables)
        assert body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT", body
        assert "NUL" in body["errors"][0]["message"]
    assert await Comment.filter(post_id=post.id).count() == 0
    assert (await User.get(id=ana.id)).bio == ""


async def test_strings_have_length_bounds(client: GraphQLClient) -> None:
    body = await client.raw(
        "mutation($input: LoginInput!) { login(input: $input) { errors { code field } } }",
        {"input": {"usernameOrEmail": "a" * 50_000, "password": "x"}},
    )
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT", body
    body = await client.raw(
        "mutation($input: LoginInput!) { login(input: $input) { errors { code field } } }",
        {"input": {"usernameOrEmail": "a" * 400, "password": "x"}},
    )
    assert body["data"]["login"]["errors"] == [
        {"code": "INVALID_INPUT", "field": "usernameOrEmail"}
    ]


async def test_a_long_document_is_refused_unread(client: GraphQLClient) -> None:
    document = "{ viewer { id } }" + " " * 40_000
    response = await client.post(document)
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT", body
    assert "longer than" in body["errors"][0]["message"]


async def test_a_large_body_is_refused_at_the_limit_while_it_streams(
    live_server: str, client: GraphQLClient
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"query": "{ viewer { id } }", "variables": {"x": "'
        for _ in range(100):  # 100 MB, if the server read it all
            chunk = b"a" * (1024 * 1024)
            sent += len(chunk)
            yield chunk
        yield b'"}}'

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        try:
            response = await http.post(
                "/graphql", content=body(), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError:
            response = None  # the server may close the connection as it refuses
    assert sent < 20 * 1024 * 1024, sent  # stopped long before the end
    assert time.monotonic() - started < 10
    if response is not None:
        assert response.status_code == 413
    # A body declared too large is refused before a byte of it is sent.
    host, port = live_server.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200000000\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status_line.split()[1] == b"413", status_line
    # One that does not declare its length is refused at the first chunk past the limit.
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * (64 * 1024)
    for _ in range(18):  # 1.1 MB
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), 5)
    writer.close()
    assert answer.split()[1] == b"413", answer[:200]
    assert b"larger than" in answer


async def test_an_accepted_large_body_does_not_stall_other_requests(
    client: GraphQLClient, live_server: str
) -> None:
    variables = {"q": ["x" * 9_000] * 100}  # 900 KB of strings, under every limit
    query = "query($q: [String!]) { viewer { id } }"

    async def quick() -> float:
        started = time.monotonic()
        await client.query("{ viewer { id } }")
        return time.monotonic() - started

    baseline = min([await quick() for _ in range(5)])
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as other:
        big = [
            other.post("/graphql", json={"query": query, "variables": variables}) for _ in range(4)
        ]
        answers = asyncio.gather(*big)
        timings = await asyncio.gather(*[quick() for _ in range(8)])
        responses = await answers
    assert all(r.status_code in {200, 400} for r in responses)
    assert max(timings) < baseline + 0.5


async def test_nothing_is_written_by_bad_input(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    client.token = token_for(ana, settings)
    before = await Post.all().count()
    await client.raw(
        "mutation($input: CreatePostInput!) { createPost(input: $input) { errors { code } } }",
        {"input": {"mediaIds": [_gid("Media:²")], "caption": "x"}},
    )
    assert await Post.all().count() == before
    assert gid(ana)
