"""Compiled and stock execution agree on Shutter's own schema: the queries of shared/API.md and
the README, and a few hundred generated from the schema (hypothesis-graphql), give the same
`data` and `errors` through the engine (schema/engine) and through graphql-core's executor,
against the same seeded world."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import queries
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from config.runtime import Runtime
from config.settings import Settings
from domain.graph import flows as graph_flows
from domain.messaging import flows as messaging_flows
from domain.posts import flows as post_flows
from resolvers.global_ids import to_global_id
from schema.root import build_schema
from tests.factories import context_for, fan_out, make_media, make_user

GENERATED = 300


def generated(sdl: str, count: int) -> list[str]:
    """`count` queries made from the schema, the same ones on every run."""
    made: list[str] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(queries(sdl))
    def collect(query: str) -> None:
        made.append(query)

    collect()
    return made


def written(post_id: str, thread_id: str) -> list[str]:
    """Queries as the contract and the README write them."""
    return [
        "{ viewer { id username fullName bio isPrivate followerCount followingCount postCount"
        " avatar { url } } }",
        '{ user(username: "ana") { id username viewerFollows followsViewer'
        " followers(first: 20) { edges { cursor node { username followerCount viewerFollows } }"
        " pageInfo { hasNextPage endCursor } } following(first: 5) { edges { node { id } } } } }",
        '{ user(username: "ana") { posts(first: 10) { edges { node { caption likeCount'
        " commentCount viewerHasLiked viewerHasSaved author { username } media { url } } } } } }",
        "{ feed(first: 10) { edges { cursor node { id kind caption hashtags likeCount"
        " commentCount viewerHasLiked viewerHasSaved createdAt author { username }"
        " media { id kind status width height blurhash url(width: 640)"
        " variants { url width height contentType } } } } pageInfo { hasNextPage endCursor } } }",
        "{ feed(first: 3, order: CHRONOLOGICAL) { edges { node { id } } } }",
        f'{{ post(id: "{post_id}") {{ id kind caption mentions {{ username }} hashtags'
        " comments(first: 5) { edges { node { id text author { username } } } } } }",
        f'{{ node(id: "{post_id}") {{ id ... on Post {{ caption }} }} }}',
        '{ hashtag(name: "sunset") { name postCount posts(first: 5) { edges { node { id } } } } }',
        '{ search(query: "a", first: 5) { users { edges { node { username } } }'
        " hashtags { edges { node { name } } } } }",
        "{ threads(first: 10) { edges { node { id unreadCount participants { username }"
        " lastMessage { text } } } } }",
        f'{{ thread(id: "{thread_id}") {{ messages(first: 10) {{ edges {{ node {{ id text'
        " sender { username } createdAt } } } } } }",
        "{ notifications(first: 10) { unreadCount edges { node { id kind actorCount read"
        " actors(first: 3) { edges { node { username } } totalCount } post { id } } } } }",
        # irregular: a refused field, a missing post, a bad cursor
        '{ feed(first: 2) { edges { cursor } } user(username: "bo")'
        " { savedPosts(first: 1) { edges { cursor } } } }",
        '{ post(id: "nope") { id } feed(first: 1, after: "x") { edges { cursor } } }',
        "{ feed(first: 500) { edges { cursor } } }",
    ]


async def _world(runtime: Runtime) -> tuple[int, str, str]:
    ana, bo, carl = await make_user("ana"), await make_user("bo"), await make_user("carl")
    for follower, followee in ((bo, ana), (carl, ana), (ana, bo)):
        await graph_flows.follow(
            follower_id=follower.id,
            followee_id=followee.id,
            users=runtime.users,
            ports=runtime.ports,
        )
    post_ids = []
    for author, caption in ((ana, "Golden #sunset with @bo"), (bo, "hills #hiking"), (ana, "")):
        post_id = await post_flows.create_post(
            author_id=author.id,
            media_ids=[(await make_media(author)).id],
            caption=caption,
            stores=runtime.post_stores,
            ports=runtime.ports,
        )
        await fan_out(runtime, post_id)
        post_ids.append(post_id)
    message = await messaging_flows.send_message(
        sender_id=bo.id,
        thread_id=None,
        recipient_ids=[ana.id],
        text="hi",
        media_id=None,
        post_id=None,
        client_id=None,
        ports=runtime.ports,
        posts=runtime.posts,
    )
    return (
        ana.id,
        to_global_id("Post", post_ids[0]),
        to_global_id("Thread", message.thread_id),
    )


async def _answer(
    schema: strawberry.Schema, runtime: Runtime, query: str, viewer_id: int
) -> dict[str, Any]:
    result = await schema.execute(query, context_value=context_for(runtime, viewer_id))
    return {
        "data": result.data,
        "errors": [(e.message, e.path, (e.extensions or {}).get("code")) for e in result.errors]
        if result.errors
        else [],
    }


@pytest.fixture(scope="module")
def sdl(settings: Settings) -> str:
    return build_schema(settings).as_str()


async def test_compiled_and_stock_give_the_same_answers(
    runtime: Runtime, settings: Settings, sdl: str
) -> None:
    # given: one world, the engine's schema and one on graphql-core's own executor
    viewer, post_id, thread_id = await _world(runtime)
    engine = build_schema(settings)
    stock = build_schema(settings)
    stock.execution_context_class = StrawberryGraphQLCoreExecutionContext
    checked = written(post_id, thread_id) + generated(sdl, GENERATED)

    # when / then: each query, compiled and stock, twice (the second from warm caches)
    differing = []
    for query in checked:
        for _ in range(2):
            ours, theirs = (
                await _answer(engine, runtime, query, viewer),
                await _answer(stock, runtime, query, viewer),
            )
            if ours != theirs:
                differing.append((query, ours, theirs))
    assert differing == []
    assert len(checked) > GENERATED
