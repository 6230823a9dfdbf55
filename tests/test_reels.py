"""Reels and the view log: what is logged, counted and flushed, and what the reels feed never
shows."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from config.runtime import Runtime
from config.settings import Settings
from domain.graph import service as graph
from domain.posts import counters
from domain.posts import flows as post_flows
from domain.posts.models import Post
from domain.reels.models import ViewEvent
from domain.users.models import User
from resolvers.global_ids import to_global_id
from tests.client import GraphQLClient
from tests.factories import make_media, make_user, token_for

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

REELS = """query($after: String) { reels(first: 5, after: $after) { edges { node { id
  author { username } } } pageInfo { hasNextPage endCursor } } }"""


async def _reel(runtime: Runtime, author: User, caption: str = "") -> int:
    video = await make_media(author, kind="VIDEO", duration_ms=10_000)
    return await post_flows.create_post(
        author_id=author.id,
        media_ids=[video.id],
        caption=caption,
        stores=runtime.post_stores,
        ports=runtime.ports,
        reel=True,
    )


async def _log(
    client: GraphQLClient, token: str, batch: str, events: list[dict[str, Any]]
) -> dict[str, Any]:
    return await client.mutate(
        "logViews", "accepted rejected", {"batchId": batch, "events": events}, token=token
    )


async def test_views_are_logged_once_per_batch_and_counted(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    secret = await make_user("secret", private=True)
    reel = to_global_id("Post", await _reel(runtime, ana))
    hidden = to_global_id("Post", await _reel(runtime, secret))
    token = token_for(bo, settings)
    events = [
        {"postId": reel, "watchedMs": 10_000, "completed": True, "surface": "REELS"},
        {"postId": reel, "watchedMs": 3_000},  # completed and surface take their defaults
        {"postId": reel, "watchedMs": -5, "surface": "FEED"},  # impossible
        {"postId": reel, "watchedMs": 10**9, "surface": "FEED"},  # absurd
        {"postId": hidden, "watchedMs": 1_000, "surface": "REELS"},  # may not see it
        {"postId": to_global_id("Post", 42), "watchedMs": 1_000, "surface": "REELS"},
        {"postId": "not-an-id", "watchedMs": 1_000, "surface": "REELS"},
    ]
    first = await _log(client, token, "b-1", events)
    assert first == {"accepted": 2, "rejected": 5, "errors": []}
    assert await _log(client, token, "b-1", events) == first  # a retry counts once
    stored = await ViewEvent.all().order_by("id").values_list("watched_ms", "completed", "surface")
    assert stored == [(10_000, True, "REELS"), (3_000, False, "FEED")]
    read = await client.query(
        "query($id: ID!) { post(id: $id) { viewCount playCount } }", {"id": reel}, token=token
    )
    assert read["post"] == {"viewCount": 2, "playCount": 2}
    await counters.flush(runtime.redis, "post")
    row = await Post.get(id=int(await _raw(reel)))
    assert (row.view_count, row.play_count) == (2, 2)
    too_many = await _log(client, token, "b-2", [events[0]] * 101)
    assert too_many["errors"][0]["code"] == "INVALID_INPUT"


async def _raw(global_id: str) -> int:
    from resolvers.global_ids import parse_global_id

    return parse_global_id(global_id)[1]


async def test_reels_follow_their_rules(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    me = await make_user("me")
    friend, stranger = await make_user("friend"), await make_user("stranger")
    private, blocker = await make_user("private", private=True), await make_user("blocker")
    await graph.follow(follower_id=me.id, followee_id=friend.id, users=runtime.users)
    made = {}
    for author in (friend, stranger):
        for i in range(3):
            made[f"{author.username}{i}"] = await _reel(runtime, author, f"{author.username}{i}")
    await _reel(runtime, private)
    await _reel(runtime, blocker)
    await _reel(runtime, me)  # one's own are not in one's reels
    await graph.block(blocker_id=blocker.id, blocked_id=me.id, users=runtime.users)
    token = token_for(me, settings)

    async def walk() -> list[tuple[str, str]]:
        seen, after = [], None
        while True:
            page = (await client.query(REELS, {"after": after}, token=token))["reels"]
            seen += [(e["node"]["id"], e["node"]["author"]["username"]) for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    everything = await walk()
    assert sorted(a for _, a in everything) == ["friend"] * 3 + ["stranger"] * 3
    authors = [a for _, a in everything]
    assert all(x != y for x, y in itertools.pairwise(authors))  # never twice running
    # a reel watched to the end, and one marked not interested, are gone from the next walk
    watched, unwanted = everything[0][0], everything[1][0]
    await _log(
        client,
        token,
        "w",
        [{"postId": watched, "watchedMs": 10_000, "completed": True, "surface": "REELS"}],
    )
    marked = await client.mutate("notInterested", "postId", {"postId": unwanted}, token=token)
    assert marked == {"postId": unwanted, "errors": []}
    again = [post for post, _ in await walk()]
    assert watched not in again
    assert unwanted not in again
    assert len(again) == 4


async def test_reel_cursors_hold_while_new_reels_arrive(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    me = await make_user("me")
    authors = [await make_user(f"a{i}") for i in range(8)]
    for author in authors:
        await _reel(runtime, author)
    token = token_for(me, settings)
    first = (await client.query(REELS, {"after": None}, token=token))["reels"]
    for author in authors[:3]:  # new ones arrive while the viewer scrolls
        await _reel(runtime, author)
    rest = (await client.query(REELS, {"after": first["pageInfo"]["endCursor"]}, token=token))[
        "reels"
    ]
    ids = [e["node"]["id"] for e in first["edges"] + rest["edges"]]
    assert len(ids) == len(set(ids)) == 8
