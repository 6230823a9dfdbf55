"""Stories: 24 hours to the second, the tray's order, close friends, privacy and blocks,
viewers for the owner within 48 hours, highlights past expiry, replies as direct messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from config.runtime import Runtime
from config.settings import Settings
from domain.errors import DomainError
from domain.graph import service as graph
from domain.notifications.models import Notification
from domain.realtime.events import messages_channel
from domain.stories import flows as story_flows
from domain.stories import service as stories
from domain.stories.models import Audience
from domain.users.models import User
from resolvers.global_ids import to_global_id
from tests.client import GraphQLClient
from tests.factories import gid, make_media, make_user, media_gid, token_for
from tests.jobs import drain
from tests.ws import connect, listening, receive, subscribe
from workers.queues import DEFAULT_QUEUE

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

STORY = "story { id audience expiresAt }"
TRAY = "{ storyTray { user { username } hasUnseen stories { caption viewerHasSeen } } }"


async def _story(
    runtime: Runtime,
    author: User,
    caption: str = "",
    *,
    audience: Audience = Audience.EVERYONE,
    at: datetime | None = None,
) -> int:
    media = await make_media(author)
    story = await story_flows.create_story(
        author_id=author.id,
        media_id=media.id,
        audience=audience,
        caption=caption,
        stories=runtime.stories,
        ports=runtime.ports,
        at=at,
    )
    return story.id


async def _follow(runtime: Runtime, follower: User, followee: User) -> None:
    await graph.follow(follower_id=follower.id, followee_id=followee.id, users=runtime.users)
    if followee.is_private:
        await graph.approve_request(
            owner_id=followee.id, requester_id=follower.id, users=runtime.users
        )


async def _tray(client: GraphQLClient, user: User, settings: Settings) -> list[dict[str, Any]]:
    reels: list[dict[str, Any]] = (await client.query(TRAY, token=token_for(user, settings)))[
        "storyTray"
    ]
    return reels


async def test_a_story_needs_ready_media_of_ones_own(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    token = token_for(ana, settings)
    cases = [
        (await make_media(ana), None),
        (await make_media(ana, status="PROCESSING"), "INVALID_INPUT"),
        (await make_media(ana, kind="VIDEO", duration_ms=61_000), "INVALID_INPUT"),
        (await make_media(ana, kind="VIDEO", duration_ms=30_000), None),
        (await make_media(bo), "NOT_FOUND"),
    ]
    for media, code in cases:
        made = await client.mutate(
            "createStory",
            STORY,
            {"mediaId": media_gid(media), "audience": "EVERYONE"},
            token=token,
        )
        assert [e["code"] for e in made["errors"]] == ([code] if code else []), (media, made)


async def test_a_101st_story_in_a_day_is_rate_limited(runtime: Runtime) -> None:
    ana = await make_user("ana")
    start = datetime.now(UTC) - timedelta(hours=23)
    media = await make_media(ana)
    for i in range(stories.MAX_LIVE_PER_DAY):
        await stories.create_story(
            author_id=ana.id,
            media_id=media.id,
            audience=Audience.EVERYONE,
            caption="",
            stories=runtime.stories,
            at=start + timedelta(seconds=i),
        )
    with pytest.raises(DomainError) as refused:
        await stories.create_story(
            author_id=ana.id,
            media_id=media.id,
            audience=Audience.EVERYONE,
            caption="",
            stories=runtime.stories,
        )
    assert refused.value.code == "RATE_LIMITED"
    assert 3_500 < getattr(refused.value, "retry_after_seconds", 0) <= 3_600


async def test_a_story_lives_exactly_24_hours(runtime: Runtime) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await _follow(runtime, bo, ana)
    posted = datetime.now(UTC).replace(microsecond=0)
    await _story(runtime, ana, "hi", at=posted)
    at = int(posted.timestamp() * 1000)

    async def seen_at(ms: int) -> list[int]:
        reels = await stories.tray(
            viewer_id=bo.id, users=runtime.users, stories=runtime.stories, at_ms=ms
        )
        return [r.author_id for r in reels]

    assert await seen_at(at + 86_399_999) == [ana.id]  # 23:59:59.999
    assert await seen_at(at + 86_400_000) == []  # 24:00:00
    await runtime.stories.expire(at_ms=at + 86_400_000)  # the cron's sweep
    assert await runtime.redis.zcard(f"stories:{{{ana.id}}}") == 0


async def test_the_tray_is_own_first_then_unseen_then_affinity_then_newest(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    me = await make_user("me")
    a, b, c, d = [await make_user(n) for n in ("a", "b", "c", "d")]
    for other in (a, b, c, d):
        await _follow(runtime, me, other)
    now = datetime.now(UTC)
    await _story(runtime, a, "a", at=now - timedelta(hours=4))
    await _story(runtime, b, "b", at=now - timedelta(hours=3))
    await _story(runtime, c, "c", at=now - timedelta(hours=2))
    seen = await _story(runtime, d, "d", at=now - timedelta(hours=1))
    await _story(runtime, me, "mine", at=now - timedelta(hours=5))
    await runtime.stories.bump_affinity(me.id, a.id, 5.0)  # me engages with a most
    marked = await client.mutate(
        "markStoriesSeen",
        "marked",
        {"storyIds": [to_global_id("Story", seen)]},
        token=token_for(me, settings),
    )
    assert marked == {"marked": 1, "errors": []}
    again = await client.mutate(
        "markStoriesSeen",
        "marked",
        {"storyIds": [to_global_id("Story", seen)]},
        token=token_for(me, settings),
    )
    assert again == {"marked": 0, "errors": []}  # idempotent
    tray = await _tray(client, me, settings)
    assert [r["user"]["username"] for r in tray] == ["me", "a", "c", "b", "d"]
    assert [r["hasUnseen"] for r in tray] == [False, True, True, True, False]
    assert tray[-1]["stories"] == [{"caption": "d", "viewerHasSeen": True}]


async def test_close_friends_private_accounts_and_blocks(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana = await make_user("ana", private=True)
    friend, fan, stranger, blocked = [
        await make_user(n) for n in ("friend", "fan", "stranger", "blocked")
    ]
    for follower in (friend, fan, blocked):
        await _follow(runtime, follower, ana)
    ana_t = token_for(ana, settings)
    close = await _story(runtime, ana, "close", audience=Audience.CLOSE_FRIENDS)
    await _story(runtime, ana, "all")
    added = await client.mutate(
        "addCloseFriend", "user { username }", {"userId": gid(friend)}, token=ana_t
    )
    assert added == {"user": {"username": "friend"}, "errors": []}
    await graph.block(blocker_id=ana.id, blocked_id=blocked.id, users=runtime.users)

    def captions(tray: list[dict[str, Any]]) -> list[str]:
        return [s["caption"] for r in tray if r["user"]["username"] == "ana" for s in r["stories"]]

    assert captions(await _tray(client, friend, settings)) == ["close", "all"]
    assert captions(await _tray(client, fan, settings)) == ["all"]
    assert captions(await _tray(client, blocked, settings)) == []
    by_id = "query($id: ID!) { node(id: $id) { id } }"
    story = {"id": to_global_id("Story", close)}
    assert (await client.query(by_id, story, token=token_for(stranger, settings)))["node"] is None
    assert (await client.query(by_id, story, token=token_for(fan, settings)))["node"] is None
    # taken off the list: the very next read no longer shows it
    await client.mutate(
        "removeCloseFriend", "user { username }", {"userId": gid(friend)}, token=ana_t
    )
    assert captions(await _tray(client, friend, settings)) == ["all"]
    # the list is ana's own
    mine = await client.query(
        "{ viewer { closeFriends { edges { node { username } } } } }", token=ana_t
    )
    assert mine["viewer"]["closeFriends"]["edges"] == []
    theirs = await client.raw(
        '{ user(username: "ana") { closeFriends { edges { node { username } } } } }',
        token=token_for(fan, settings),
    )
    assert theirs["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_viewers_are_the_owners_for_48_hours(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await _follow(runtime, bo, ana)
    story_id = await _story(runtime, ana, "hi")
    story_gid = to_global_id("Story", story_id)
    await client.mutate(
        "markStoriesSeen", "marked", {"storyIds": [story_gid]}, token=token_for(bo, settings)
    )
    query = (
        "query($id: ID!) { node(id: $id) { ... on Story { viewCount"
        " viewers { edges { node { username } } } } } }"
    )
    own = await client.query(query, {"id": story_gid}, token=token_for(ana, settings))
    assert own["node"] == {"viewCount": 1, "viewers": {"edges": [{"node": {"username": "bo"}}]}}
    other = await client.raw(query, {"id": story_gid}, token=token_for(bo, settings))
    assert other["data"]["node"] is None or other["data"]["node"]["viewCount"] is None
    view = await runtime.stories.rows.get(story_id)
    assert view is not None
    later = await stories.viewers(
        story=view, first=10, after=None, at=view.created_at + timedelta(hours=49)
    )
    assert later.ids == []
    unknown = await client.mutate(
        "markStoriesSeen",
        "marked",
        {"storyIds": [story_gid, to_global_id("Story", 1)]},
        token=token_for(bo, settings),
    )
    assert unknown["errors"][0]["code"] == "NOT_FOUND"


async def test_highlights_outlive_expiry_with_their_audience(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, fan, friend = await make_user("ana"), await make_user("fan"), await make_user("friend")
    old = datetime.now(UTC) - timedelta(hours=30)
    everyone = await _story(runtime, ana, "trip", at=old)
    close = await _story(runtime, ana, "secret", audience=Audience.CLOSE_FRIENDS, at=old)
    await stories.set_close_friend(
        owner_id=ana.id, friend_id=friend.id, on=True, stories=runtime.stories
    )
    ana_t = token_for(ana, settings)
    made = await client.mutate(
        "createHighlight",
        "highlight { id title stories { caption } }",
        {
            "title": "Lisbon",
            "storyIds": [to_global_id("Story", everyone), to_global_id("Story", close)],
        },
        token=ana_t,
    )
    assert made["errors"] == []
    query = '{ user(username: "ana") { highlights { title stories { caption } } } }'
    as_fan = await client.query(query, token=token_for(fan, settings))
    assert as_fan["user"]["highlights"] == [{"title": "Lisbon", "stories": [{"caption": "trip"}]}]
    as_friend = await client.query(query, token=token_for(friend, settings))
    assert [s["caption"] for s in as_friend["user"]["highlights"][0]["stories"]] == [
        "trip",
        "secret",
    ]
    # an expired story outside a highlight is the owner's archive only
    lone = await _story(runtime, ana, "lone", at=old)
    by_id = "query($id: ID!) { node(id: $id) { id } }"
    lone_id = {"id": to_global_id("Story", lone)}
    assert (await client.query(by_id, lone_id, token=token_for(fan, settings)))["node"] is None
    archive = await client.query(
        "{ viewer { storyArchive { edges { node { caption } } } } }", token=ana_t
    )
    assert [e["node"]["caption"] for e in archive["viewer"]["storyArchive"]["edges"]] == [
        "lone",
        "secret",
        "trip",
    ]
    foreign = await client.mutate(
        "addToHighlight",
        "highlight { id }",
        {"highlightId": made["highlight"]["id"], "storyIds": [to_global_id("Story", lone)]},
        token=token_for(fan, settings),
    )
    assert foreign["errors"][0]["code"] == "NOT_FOUND"


async def test_replies_arrive_as_direct_messages_and_mentions_are_told(
    client: GraphQLClient, settings: Settings, runtime: Runtime, live_server: str, redis: Redis
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await _follow(runtime, ana, bo)
    story_id = await _story(runtime, ana, "hello @bo")
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)
    told = await Notification.filter(user_id=bo.id, kind="MENTION").values_list(
        "story_id", flat=True
    )
    assert told == [story_id]
    ws = await connect(live_server, token_for(ana, settings))
    try:
        await subscribe(
            ws,
            "subscription { messageReceived { text isStoryReply story { caption } } }",
            op_id="m",
        )
        await listening(redis, messages_channel(ana.id))
        reply = await client.mutate(
            "replyToStory",
            "message { text }",
            {"storyId": to_global_id("Story", story_id), "emoji": "🔥"},
            token=token_for(bo, settings),
        )
        assert reply == {"message": {"text": "🔥"}, "errors": []}
        event = await receive(ws)
    finally:
        await ws.close()
    assert event["payload"]["data"]["messageReceived"] == {
        "text": "🔥",
        "isStoryReply": True,
        "story": {"caption": "hello @bo"},
    }
    both = await client.mutate(
        "replyToStory",
        "message { text }",
        {"storyId": to_global_id("Story", story_id), "emoji": "x", "text": "y"},
        token=token_for(bo, settings),
    )
    assert both["errors"][0]["code"] == "INVALID_INPUT"
