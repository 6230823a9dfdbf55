"""Shutter scaled out (run by `make test-cluster`, TEST_REDIS_TOPOLOGY=cluster): on a Redis
Cluster every path that touches Redis stays within one slot per command and script, and the
cluster's own error counters prove it; the API reads through a Postgres replica meanwhile; and
a Redis master killed under load is taken over by its replica with no request failing but with
a typed, retryable error."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest

from config.runtime import Runtime
from config.seed import DEMO_USERNAME, seed_demo
from config.settings import Settings
from domain.messaging.models import Message
from domain.realtime.events import messages_channel
from domain.users.models import User
from resolvers.global_ids import parse_global_id, to_global_id
from tests.client import GraphQLClient
from tests.factories import follow, make_media, make_user, media_gid, token_for
from tests.jobs import drain
from tests.servers import RedisClusterServers
from tests.ws import connect, listening, receive, subscribe
from workers import jobs
from workers.queues import QUEUES

pytestmark = [pytest.mark.topology, pytest.mark.e2e]

FEED = """query($order: FeedOrder) { feed(first: 20, order: $order) { edges { node { id
  likeCount commentCount viewerHasLiked author { username viewerFollows } } } } }"""
READS = """{ storyTray { user { username } hasUnseen stories { id viewerHasSeen } }
  reels(first: 10) { edges { node { id } } }
  explore(first: 10) { edges { node { id } } }
  notifications(first: 20) { edges { node { id } } }
  threads(first: 10) { edges { node { id } } }
  search(query: "a", first: 5) { users { edges { node { username } } } } }"""
MESSAGE_RECEIVED = "subscription { messageReceived { text } }"


def _errors(stats: dict[int, str]) -> dict[str, int]:
    """Error replies of the whole cluster, by kind (INFO errorstats) and by the command that
    failed or was refused (INFO commandstats' failed_calls and rejected_calls)."""
    counts: dict[str, int] = {}
    for text in stats.values():
        found = re.findall(r"errorstat_(\w+):count=(\d+)", text)
        found += [
            (f"{command} failed", int(failed) + int(rejected))
            for command, rejected, failed in re.findall(
                r"cmdstat_([\w|]+):.*rejected_calls=(\d+),failed_calls=(\d+)", text
            )
        ]
        for kind, count in found:
            counts[kind] = counts.get(kind, 0) + int(count)
    return counts


@pytest.fixture
def cluster(redis_cluster: RedisClusterServers | None) -> RedisClusterServers:
    if redis_cluster is None:
        pytest.skip("runs on the Redis Cluster of `make test-cluster`")
    return redis_cluster


async def _everything(
    runtime: Runtime, settings: Settings, client: GraphQLClient, live_server: str
) -> None:
    """Every kind of Redis work Shutter does: the demo world made through the flows and fanned
    out, then the demo account liking, commenting, saving, posting stories, watching, sending
    messages to a live subscriber, and reading every surface, and the workers' jobs and crons."""
    assert await seed_demo(runtime=runtime)
    for queue in QUEUES:
        await drain(queue, settings=settings, runtime=runtime)
    demo = await User.get(username=DEMO_USERNAME)
    token = token_for(demo, settings)
    page = await client.query(FEED, {"order": "CHRONOLOGICAL"}, token=token)
    posts = [edge["node"]["id"] for edge in page["feed"]["edges"]]
    assert posts, "the demo account's feed is empty"
    for post in posts[:5]:
        for name in ("likePost", "savePost"):
            made = await client.mutate(name, "post { id }", {"postId": post}, token=token)
            assert not made["errors"], made
        made = await client.mutate(
            "addComment", "comment { id }", {"postId": post, "text": "lovely"}, token=token
        )
        assert not made["errors"], made
    events = [
        {"postId": post, "watchedMs": 3_000, "completed": True, "surface": "FEED"} for post in posts
    ]
    logged = await client.mutate(
        "logViews", "accepted rejected", {"batchId": "b-1", "events": events}, token=token
    )
    assert logged["accepted"] == len(posts), logged
    await client.mutate("notInterested", "ok: __typename", {"postId": posts[-1]}, token=token)
    story = await client.mutate(
        "createStory",
        "story { id }",
        {"mediaId": media_gid(await make_media(demo)), "audience": "EVERYONE"},
        token=token,
    )
    assert not story["errors"], story

    # a follower of the demo account sees its story, and hears its message live
    friend = await make_user("friend")
    await follow(friend, demo, runtime.users)
    await follow(demo, friend, runtime.users)
    friend_token = token_for(friend, settings)
    ws = await connect(live_server, friend_token)
    try:
        await subscribe(ws, MESSAGE_RECEIVED)
        await listening(runtime.redis, messages_channel(friend.id))
        sent = await client.mutate(
            "sendMessage",
            "message { id }",
            {"recipientIds": [to_global_id("User", friend.id)], "text": "hello there"},
            token=token,
        )
        assert not sent["errors"], sent
        heard = await receive(ws)
        assert heard["payload"]["data"]["messageReceived"]["text"] == "hello there"
    finally:
        await ws.close()
    for viewer in (token, friend_token):
        reads = await client.query(READS, token=viewer)
        seen = [s["id"] for reel in reads["storyTray"] for s in reel["stories"]]
        if seen:
            await client.mutate(
                "markStoriesSeen", "ok: __typename", {"storyIds": seen}, token=viewer
            )
        await client.query(FEED, {"order": "RANKED"}, token=viewer)

    # the workers' share: notifications, ranking, and the crons
    for queue in QUEUES:
        await drain(queue, settings=settings, runtime=runtime)
    ctx: dict[str, Any] = {"runtime": runtime}
    await jobs.train_ranker(ctx)
    await jobs.rank_explore(ctx, demo.id)
    await jobs.rank_feed(ctx, demo.id)
    await jobs.flush_counters(ctx)
    await jobs.reconcile_counters(ctx)
    await jobs.expire_stories(ctx)
    await jobs.sweep_fanouts(ctx)
    page = await client.query(FEED, {"order": "RANKED"}, token=token)
    liked = [e["node"] for e in page["feed"]["edges"] if e["node"]["viewerHasLiked"]]
    assert liked
    assert all(node["likeCount"] >= 1 for node in liked)


async def test_no_command_or_script_crosses_slots(
    cluster: RedisClusterServers,
    runtime: Runtime,
    settings: Settings,
    client: GraphQLClient,
    live_server: str,
) -> None:
    before = _errors(cluster.error_stats())
    await asyncio.wait_for(_everything(runtime, settings, client, live_server), 240)
    after = _errors(cluster.error_stats())
    # the API's reads went to the Postgres replica too
    metrics = (await client.http.get("/metrics")).text
    served = re.search(r'^shutter_replica_reads\{replica="replica0"\} (\S+)$', metrics, re.M)
    assert served, metrics
    assert float(served.group(1)) > 0
    new = {kind: n - before.get(kind, 0) for kind, n in after.items() if n > before.get(kind, 0)}
    assert "CROSSSLOT" not in new, new
    # a script's first call on a node is NOSCRIPT, then it is loaded there
    assert new.pop("evalsha failed", 0) <= new.pop("NOSCRIPT", 0), new
    # redis-py names itself on every new connection (CLIENT SETINFO, which Redis 7.0 does not
    # know: an ERR counted under no command); any other error is a failed or refused command
    new.pop("ERR", None)
    assert new == {}, f"the cluster answered with errors: {new}"


CREATE_POST = "post { id }"


def _outcome(body: dict[str, Any], name: str) -> str:
    """ok, unavailable (a typed, retryable outage error) or the unexpected error itself."""
    errors = body.get("errors") or (body.get("data") or {}).get(name, {}).get("errors") or []
    if not errors:
        return "ok"
    codes = {(e.get("extensions") or {}).get("code") or e.get("code") for e in errors}
    return "unavailable" if codes == {"UNAVAILABLE"} else f"bad: {errors}"


async def test_a_master_dies_and_its_replica_takes_over_under_load(
    cluster: RedisClusterServers,
    runtime: Runtime,
    settings: Settings,
    client: GraphQLClient,
) -> None:
    # given: an author with followers, a friend to message, and a stream of reads and writes
    ana = await make_user("ana")
    followers = [await make_user(f"fan{i}") for i in range(12)]
    for fan in followers:
        await follow(fan, ana, runtime.users)
    await follow(ana, followers[0], runtime.users)
    tokens = {u.id: token_for(u, settings) for u in [ana, *followers]}
    posts: list[str] = []
    sent: list[str] = []
    outcomes: list[tuple[float, str, str]] = []  # (when, what, outcome)
    stop = asyncio.Event()
    started = time.monotonic()

    async def attempt(what: str, query: str, variables: dict[str, Any], token: str) -> Any:
        try:
            response = await client.post(query, variables, token=token)
            body = response.json()  # 200, or 503 when nothing could be answered
        except (httpx.HTTPError, ValueError) as error:
            outcomes.append((time.monotonic() - started, what, f"bad: {error!r}"))
            return None
        name = {"post": "createPost", "like": "likePost", "message": "sendMessage"}.get(what, "")
        outcome = _outcome(body, name)
        outcomes.append((time.monotonic() - started, what, outcome))
        return body if outcome == "ok" else None

    async def author() -> None:
        while not stop.is_set():
            media = media_gid(await make_media(ana))
            body = await attempt(
                "post",
                f"mutation($i: CreatePostInput!) {{ createPost(input: $i) {{ {CREATE_POST}"
                " errors { code } } }",
                {"i": {"mediaIds": [media], "caption": "live"}},
                tokens[ana.id],
            )
            if body is not None:
                posts.append(body["data"]["createPost"]["post"]["id"])
            await asyncio.sleep(0.6)  # within a young account's post budget

    async def readers() -> None:
        n = 0
        while not stop.is_set():
            fan = followers[n % len(followers)]
            n += 1
            await attempt("feed", FEED, {"order": "CHRONOLOGICAL"}, tokens[fan.id])
            if posts:
                await attempt(
                    "like",
                    "mutation($i: LikePostInput!) { likePost(input: $i) { errors { code } } }",
                    {"i": {"postId": posts[n % len(posts)]}},
                    tokens[fan.id],
                )

    async def messages() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            body = await attempt(
                "message",
                "mutation($i: SendMessageInput!) { sendMessage(input: $i) {"
                " message { clientId thread { id } } errors { code } } }",
                {
                    "i": {
                        "recipientIds": [to_global_id("User", followers[0].id)],
                        "text": f"note {n}",
                        "clientId": f"c-{n}",
                    }
                },
                tokens[ana.id],
            )
            if body is not None:
                message = body["data"]["sendMessage"]["message"]
                sent.append(message["clientId"])
                threads.add(message["thread"]["id"])
            await asyncio.sleep(0.05)

    threads: set[str] = set()
    stream = [asyncio.create_task(job()) for job in (author, readers, readers, messages)]

    # when: one master is killed a few seconds in
    await asyncio.sleep(3)
    victim = cluster.victim()
    killed_at = time.monotonic() - started
    cluster.kill(victim)
    await asyncio.to_thread(cluster.wait_failover)  # its replica was promoted
    await asyncio.sleep(4)  # and the stream goes on on the new master
    stop.set()
    await asyncio.gather(*stream)

    # then: no request failed but with a typed, retryable outage error, and all recovered
    bad = [o for o in outcomes if o[2].startswith("bad")]
    assert bad == []
    failed = [when for when, _, outcome in outcomes if outcome != "ok"]
    recovered_at = max(failed, default=killed_at)
    assert recovered_at - killed_at < 15, f"requests failed until {recovered_at - killed_at:.1f} s"
    tail = [o for o in outcomes if o[0] > recovered_at]
    assert {what for _, what, _ in tail} >= {"feed", "like", "post", "message"}

    # and every committed post reaches every follower's feed once, every sent message is kept
    for queue in QUEUES:
        await drain(queue, settings=settings, runtime=runtime)
    for fan in followers:
        ids = await runtime.feeds.ids(fan.id)
        assert len(ids) == len(set(ids))  # no duplicate
        page = await client.query(
            "{ feed(first: 50, order: CHRONOLOGICAL) { edges { node { id } } } }",
            token=tokens[fan.id],
        )
        assert set(posts) <= {e["node"]["id"] for e in page["feed"]["edges"]}
    (thread,) = threads
    kept = await Message.filter(thread_id=parse_global_id(thread)[1]).values_list(
        "client_id", flat=True
    )
    assert set(sent) <= set(kept)
