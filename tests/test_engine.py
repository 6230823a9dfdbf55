"""The execution engine on Shutter's own schema: the hot queries compile, a given-up run never
runs a root resolver (and so its side effects) twice, and objects shared between requests carry
nothing of one viewer into another's answer."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from config.runtime import Runtime
from config.settings import Settings
from domain.posts import flows as post_flows
from resolvers import feed as feed_resolvers
from resolvers.global_ids import to_global_id
from schema.root import build_schema
from tests.factories import context_for, fan_out, follow, make_media, make_user
from tests.test_execution import Watched


@pytest.fixture
def schema(settings: Settings) -> strawberry.Schema:
    built = build_schema(settings)
    built.execution_context_class = Watched
    Watched.runs = []
    return built


async def run(
    schema: strawberry.Schema, runtime: Runtime, query: str, viewer_id: int | None
) -> dict[str, Any]:
    result = await schema.execute(query, context_value=context_for(runtime, viewer_id))
    return {
        "data": result.data,
        "codes": [(e.extensions or {}).get("code") for e in result.errors or []],
    }


async def _world(runtime: Runtime) -> tuple[int, int, int]:
    """ana posted twice; bo follows her and liked the first post. (ana, bo, first post)"""
    ana, bo = await make_user("ana"), await make_user("bo")
    await follow(bo, ana, runtime.users)
    posts = []
    for caption in ("one #a", "two @bo"):
        post_id = await post_flows.create_post(
            author_id=ana.id,
            media_ids=[(await make_media(ana)).id],
            caption=caption,
            stores=runtime.post_stores,
            ports=runtime.ports,
        )
        await fan_out(runtime, post_id)
        posts.append(post_id)
    await post_flows.set_like(
        user_id=bo.id,
        post=(await runtime.posts.get_posts([posts[0]]))[posts[0]],
        liked=True,
        stores=runtime.post_stores,
        ports=runtime.ports,
    )
    return ana.id, bo.id, posts[0]


FEED = """{ feed(first: 10) { edges { cursor node { id caption likeCount commentCount
  viewerHasLiked viewerHasSaved createdAt author { username viewerFollows }
  media { url(width: 640) width height blurhash } } } pageInfo { hasNextPage endCursor } } }"""
PROFILE = """{ user(username: "ana") { id username fullName bio followerCount followingCount
  postCount viewerFollows followsViewer posts(first: 5) { edges { node { id likeCount
  media { url(width: 320) } } } pageInfo { hasNextPage } } } }"""


async def test_the_hot_queries_compile(schema: strawberry.Schema, runtime: Runtime) -> None:
    _, bo, post_id = await _world(runtime)
    post = f"""{{ post(id: "{to_global_id("Post", post_id)}") {{ id caption kind likeCount
      viewerHasLiked viewerHasSaved author {{ username }} media {{ url variants {{ url width }} }}
      comments(first: 5) {{ edges {{ node {{ text }} }} }} }} }}"""
    for query in (FEED, PROFILE, post):
        Watched.runs = []
        answer = await run(schema, runtime, query, bo)
        assert answer["codes"] == []
        assert Watched.runs == ["compiled"], query


@pytest.mark.parametrize(
    ("query", "signed_in", "codes"),
    [
        # a refused field beside the feed: the compiled run is given up after `feed` ran
        (
            '{ feed(first: 2) { edges { cursor } } user(username: "ana") '
            "{ savedPosts(first: 1) { edges { cursor } } } }",
            True,
            ["FORBIDDEN"],
        ),
        ("{ feed(first: 2) { edges { cursor } } }", False, ["UNAUTHENTICATED"]),
    ],
)
async def test_a_given_up_run_reads_the_feed_once(
    schema: strawberry.Schema,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    signed_in: bool,
    codes: list[str],
) -> None:
    _, bo, _ = await _world(runtime)
    calls = []
    home = feed_resolvers.home

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await home(*args, **kwargs)

    monkeypatch.setattr(feed_resolvers, "home", counted)
    answer = await run(schema, runtime, query, bo if signed_in else None)
    assert answer["codes"] == codes
    assert Watched.runs == ["compiled", "usual"]
    assert len(calls) == 1


async def test_two_viewers_of_one_post_get_their_own_answers(
    schema: strawberry.Schema, runtime: Runtime
) -> None:
    ana, bo, post_id = await _world(runtime)
    carl = (await make_user("carl")).id
    query = f"""{{ post(id: "{to_global_id("Post", post_id)}") {{ likeCount viewerHasLiked
      viewerHasSaved author {{ isViewer viewerFollows }} }} }}"""
    # the same shared Post and PostView objects answer each in turn, twice over
    for _ in range(2):
        assert (await run(schema, runtime, query, bo))["data"] == {
            "post": {
                "likeCount": 1,
                "viewerHasLiked": True,
                "viewerHasSaved": False,
                "author": {"isViewer": False, "viewerFollows": True},
            }
        }
        assert (await run(schema, runtime, query, carl))["data"] == {
            "post": {
                "likeCount": 1,
                "viewerHasLiked": False,
                "viewerHasSaved": False,
                "author": {"isViewer": False, "viewerFollows": False},
            }
        }
        assert (await run(schema, runtime, query, ana))["data"]["post"]["author"] == {
            "isViewer": True,
            "viewerFollows": False,
        }
