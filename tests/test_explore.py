"""Explore and the served ranking model, against the live API and a ranking worker: what explore
never shows, training from the interaction log, publishing only a better model, hot swaps and
refused model files."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import numpy as np

from config.runtime import Runtime
from config.settings import Settings
from domain.graph import flows as graph_flows
from domain.posts.models import Like, Post
from domain.ranking import service as ranking
from domain.ranking import training
from domain.ranking.served import FAILURES_KEY, MODEL_KEY, ServedModel
from domain.reels.models import NotInterested, Surface, ViewEvent
from domain.users.models import User
from resolvers.global_ids import parse_global_id, to_global_id
from tests.client import GraphQLClient
from tests.factories import fan_out, follow, make_user, token_for
from tests.jobs import drain
from tests.test_feed import new_post
from workers.queues import RANKING_QUEUE

EXPLORE = """query($after: String) { explore(first: 50, after: $after) { edges { cursor
  node { id author { username } } } pageInfo { hasNextPage endCursor } } }"""
TOPICS = ("cats", "cars", "food", "surf")


async def _explore(client: GraphQLClient, token: str) -> tuple[list[int], dict[str, Any]]:
    body = await client.raw(EXPLORE, token=token)
    assert not body.get("errors"), body
    edges = body["data"]["explore"]["edges"]
    return [parse_global_id(e["node"]["id"])[1] for e in edges], body.get("extensions", {})


async def test_explore_shows_only_posts_from_outside_the_graph_the_viewer_may_see(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    viewer = await make_user("viewer")
    stranger, friend = await make_user("stranger"), await make_user("friend")
    secret, blocked, blocker = (
        await make_user("secret", private=True),
        await make_user("blocked"),
        await make_user("blocker"),
    )
    gone = await make_user("gone")
    good = [await new_post(runtime, stranger, f"fine #{t}") for t in TOPICS]
    seen, refused, reported = [await new_post(runtime, stranger) for _ in range(3)]
    never = [
        await new_post(runtime, friend),
        await new_post(runtime, secret),
        await new_post(runtime, blocked),
        await new_post(runtime, blocker),
        await new_post(runtime, viewer),
        await new_post(runtime, gone),
        seen,
        refused,
        reported,
    ]
    await follow(viewer, friend, runtime.users)
    await graph_flows.block(
        blocker_id=viewer.id, blocked_id=blocked.id, users=runtime.users, ports=runtime.ports
    )
    await graph_flows.block(
        blocker_id=blocker.id, blocked_id=viewer.id, users=runtime.users, ports=runtime.ports
    )
    await ViewEvent.create(
        user_id=viewer.id, post_id=seen, surface=Surface.FEED, watched_ms=900, completed=False
    )
    await NotInterested.create(user_id=viewer.id, post_id=refused)
    await Post.filter(id=reported).update(hidden=True)
    await User.filter(id=gone.id).update(status="DEACTIVATED")
    await runtime.users.invalidate(gone.id)
    token = token_for(viewer, settings)

    # No snapshot yet: the cold-start heuristic, computed in the request; a ranked one is asked.
    shown, extensions = await _explore(client, token)
    assert sorted(shown) == sorted(good)
    assert extensions["rankingModel"] == "heuristic"
    await drain(RANKING_QUEUE, settings=settings, runtime=runtime)
    shown, _ = await _explore(client, token)  # the worker's snapshot, now the current one
    assert sorted(shown) == sorted(good)
    assert not set(shown) & set(never)

    # Seen or refused since the snapshot was made: gone from its pages at once.
    logged = await client.mutate(
        "logViews",
        "accepted",
        {"batchId": "x-1", "events": [{"postId": to_global_id("Post", good[0]), "watchedMs": 1}]},
        token=token,
    )
    assert logged["accepted"] == 1
    refused_now = await client.mutate(
        "notInterested", "postId", {"postId": to_global_id("Post", good[1])}, token=token
    )
    assert refused_now["errors"] == []
    shown, _ = await _explore(client, token)
    assert sorted(shown) == sorted(good[2:])

    signed_out = await client.raw(EXPLORE)
    assert signed_out["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def _world(runtime: Runtime, *, viewers: int = 30) -> tuple[list[User], dict[str, list[int]]]:
    """Authors posting one topic each; viewers who like one topic and see posts of all."""
    authors = [await make_user(f"author{n}") for n in range(8)]
    posts: dict[str, list[int]] = {t: [] for t in TOPICS}
    for n, author in enumerate(authors):
        topic = TOPICS[n % len(TOPICS)]
        for k in range(4):
            posts[topic].append(await new_post(runtime, author, f"{topic} {k} #{topic}"))
    rng = np.random.default_rng(7)
    people = [await make_user(f"viewer{n}") for n in range(viewers)]
    every = [p for t in TOPICS for p in posts[t]]
    shown = {n: rng.choice(every, size=14, replace=False).tolist() for n in range(viewers)}
    likes, views = [], []
    for round_ in range(14):  # everyone's days interleave, as they do
        await asyncio.sleep(0.005)  # rounds apart in time (ids carry milliseconds)
        for n, person in enumerate(people):
            post = shown[n][round_]
            liked = post in posts[TOPICS[n % len(TOPICS)]] and rng.random() < 0.8
            views.append(
                ViewEvent(
                    user_id=person.id,
                    post_id=post,
                    surface=Surface.EXPLORE,
                    watched_ms=5_000 if liked else 400,
                    completed=False,
                )
            )
            if liked:
                likes.append(Like(user_id=person.id, post_id=post))
    await ViewEvent.bulk_create(views)
    await Like.bulk_create(likes)
    return people, posts


async def _train(runtime: Runtime) -> training.Trained:
    return await training.train(redis=runtime.redis, store=runtime.store)


async def test_a_trained_model_ranks_explore_and_names_itself(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    people, posts = await _world(runtime)
    trained = await _train(runtime)
    assert trained.version is not None, trained.reason
    assert trained.auc is not None
    assert trained.auc > 0.6, trained  # planted tastes are learnable
    info = json.loads(await runtime.redis.get(MODEL_KEY))
    assert info["version"] == trained.version
    assert await runtime.store.get(info["key"])  # the file is in object storage

    viewer = people[0]  # likes cats
    token = token_for(viewer, settings)
    await _explore(client, token)  # the heuristic; asks for a ranked snapshot
    await drain(RANKING_QUEUE, settings=settings, runtime=runtime)
    shown, extensions = await _explore(client, token)
    assert extensions["rankingModel"] == trained.version
    seen = {e.post_id for e in await ViewEvent.filter(user_id=viewer.id)}
    assert shown
    assert not set(shown) & seen
    cats_first = sum(1 for p in shown[:4] if p in posts["cats"])
    assert cats_first >= 2, "the viewer's topic leads their explore"


async def test_explore_keeps_an_author_to_one_in_four(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    prolific, other = await make_user("prolific"), await make_user("other")
    for n in range(6):
        await new_post(runtime, prolific, f"mine {n}")
    for n in range(2):
        await new_post(runtime, other, f"theirs {n}")
    token = token_for(await make_user("viewer"), settings)
    body = await client.query(EXPLORE, token=token)
    names = [e["node"]["author"]["username"] for e in body["explore"]["edges"]]
    assert sorted(names) == sorted(["prolific"] * 6 + ["other"] * 2)
    assert names[:3].count("prolific") <= 2  # two others to go between, then it gives way


async def test_training_that_does_not_beat_the_served_model_leaves_it_in_place(
    runtime: Runtime,
) -> None:
    await _world(runtime)
    first = await _train(runtime)
    assert first.version is not None
    info = json.loads(await runtime.redis.get(MODEL_KEY))
    info["auc"] = 0.999  # a served model no retraining on this log can beat
    await runtime.redis.set(MODEL_KEY, json.dumps(info))
    again = await _train(runtime)
    assert again.version is None
    assert "does not beat" in again.reason
    assert json.loads(await runtime.redis.get(MODEL_KEY))["version"] == first.version


async def test_no_log_no_model_and_a_new_viewer_still_gets_explore(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    trained = await _train(runtime)
    assert trained.version is None
    assert trained.reason == "no engagements to learn from"
    assert await runtime.redis.get(MODEL_KEY) is None
    token = token_for(await make_user("newcomer"), settings)
    shown, extensions = await _explore(client, token)
    assert shown == []
    assert extensions["rankingModel"] == "heuristic"


async def test_models_swap_hot_and_a_corrupt_one_is_refused(
    client: GraphQLClient, settings: Settings, runtime: Runtime, live_server: str
) -> None:
    people, _ = await _world(runtime)
    served = ServedModel(runtime.redis, runtime.store, check_seconds=0)
    first = await _train(runtime)
    # A request never waits for a model to load: it goes on without, the load runs behind it.
    assert await served.current(wait=False) is None
    for _ in range(100):
        if served.version == first.version:
            break
        await asyncio.sleep(0.05)
    assert served.version == first.version
    assert (await served.current()).version == first.version  # type: ignore[union-attr]
    token = token_for(people[1], settings)

    failures: list[Any] = []

    async def read_all_along(stop: asyncio.Event) -> None:
        while not stop.is_set():
            body = await client.raw(EXPLORE, token=token)
            if body.get("errors"):
                failures.append(body["errors"])

    stop = asyncio.Event()
    reader = asyncio.create_task(read_all_along(stop))
    try:
        info = json.loads(await runtime.redis.get(MODEL_KEY))
        info["auc"], info["trained_at"] = 0.0, "2000-01-01T00:00:00+00:00"  # easy to beat
        await runtime.redis.set(MODEL_KEY, json.dumps(info))
        second = await _train(runtime)
        assert second.version not in (None, first.version)
        assert (await served.current()).version == second.version  # type: ignore[union-attr]
        await runtime.queue.enqueue_job("rank_explore", people[1].id, _queue_name=RANKING_QUEUE)
        await drain(RANKING_QUEUE, settings=settings, runtime=runtime)

        # A damaged file named as the newest model: refused, the second one keeps serving.
        await runtime.store.put("models/ranking/broken.zip", b"PK\x03\x04 broken", "x/y")
        await runtime.redis.set(
            MODEL_KEY,
            json.dumps({**info, "version": "broken", "key": "models/ranking/broken.zip"}),
        )
        assert (await served.current()).version == second.version  # type: ignore[union-attr]
        assert int(await runtime.redis.get(FAILURES_KEY)) == 1
        # One whose file is not there (removed, or another storage): refused the same way.
        await runtime.redis.set(
            MODEL_KEY,
            json.dumps({**info, "version": "gone", "key": "models/ranking/gone.zip"}),
        )
        assert (await served.current()).version == second.version  # type: ignore[union-attr]
        assert int(await runtime.redis.get(FAILURES_KEY)) == 2
    finally:
        stop.set()
        await reader
    assert failures == []
    async with httpx.AsyncClient(base_url=live_server) as http:
        metrics = (await http.get("/metrics")).text
    assert "shutter_ranking_models_refused 2.0" in metrics


async def test_explore_cursor_pages_through_the_snapshot_once(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    authors = [await make_user(f"a{n}") for n in range(12)]
    made = [await new_post(runtime, a, "hello") for a in authors for _ in range(5)]
    token = token_for(await make_user("pager"), settings)
    query = """query($after: String) { explore(first: 7, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[int] = []
    after = None
    while True:
        page = (await client.query(query, {"after": after}, token=token))["explore"]
        seen += [parse_global_id(e["node"]["id"])[1] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(made)


async def test_the_same_model_ranks_the_feed_for_a_reader_it_knows(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    people, posts = await _world(runtime)
    reader = people[0]  # likes cats
    for author in await User.filter(username__startswith="author"):
        await follow(reader, author, runtime.users)
    for post in [p for t in TOPICS for p in posts[t]]:
        await fan_out(runtime, post)
    trained = await _train(runtime)
    assert trained.version is not None
    served = ServedModel(runtime.redis, runtime.store, check_seconds=0)
    model = await served.current()
    assert model is not None
    await ranking.rank_feed(user_id=reader.id, stores=runtime.feed_stores, served=served)
    body = await client.query(
        "{ feed(first: 8) { edges { node { id } } } }", token=token_for(reader, settings)
    )
    top = [parse_global_id(e["node"]["id"])[1] for e in body["feed"]["edges"]]
    assert sum(1 for p in top if p in posts["cats"]) >= 5, "the reader's topic leads"
    stranger = await make_user("stranger")  # unknown to the model: the heuristic's turn
    assert model.values(stranger.id, []) is None
