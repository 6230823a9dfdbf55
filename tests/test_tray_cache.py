"""The kept story tray (domain/stories/tray_cache): a tray read twice with nothing changed is
answered from Redis, and every change that decides a tray shows on the very next read: a story
posted, stories seen, an unfollow, a block, a profile edit, a deactivation, a close friends
list, the viewer's affinity, and a story's expiry. Against the live server, counted by its own
/metrics."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.runtime import Runtime
from config.settings import Settings
from domain.graph import service as graph
from domain.stories.models import Audience
from domain.users import lifecycle
from domain.users.models import User
from domain.users.store import CHANGED, note_changed
from resolvers.global_ids import to_global_id
from tests.client import GraphQLClient
from tests.factories import gid, make_user, token_for
from tests.test_stories import _follow, _story

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

TRAY = """query Tray { storyTray { hasUnseen user { username fullName } ...Stories } }
fragment Stories on StoryReel { stories { caption viewerHasSeen expiresAt } }"""


async def _answers(client: GraphQLClient) -> dict[str, float]:
    text = (await client.http.get("/metrics")).text
    found = re.findall(r'^shutter_story_trays_total\{answer="(\w+)"\} ([0-9.e+]+)$', text, re.M)
    return {answer: float(n) for answer, n in found}


class Tray:
    """Reads one viewer's tray, and says whether each read was the kept answer."""

    def __init__(self, client: GraphQLClient, viewer: User, settings: Settings) -> None:
        self.client, self.token = client, token_for(viewer, settings)

    async def read(self, query: str = TRAY) -> tuple[list[dict[str, Any]], bool]:
        before = await _answers(self.client)
        body = await self.client.raw(query, token=self.token)
        assert "errors" not in body, body
        after = await _answers(self.client)
        return body["data"]["storyTray"], after.get("kept", 0) > before.get("kept", 0)

    async def kept(self) -> list[dict[str, Any]]:
        """Read twice: the second read is the kept answer, the same as the first."""
        first, _ = await self.read()
        second, kept = await self.read()
        assert kept, "the second read of an unchanged tray is the kept answer"
        assert second == first
        return second

    async def changed(self) -> list[dict[str, Any]]:
        """The read right after a change: made anew."""
        reels, kept = await self.read()
        assert not kept, "a change makes the next read assemble the tray anew"
        return reels


def _authors(reels: list[dict[str, Any]]) -> list[str]:
    return [r["user"]["username"] for r in reels]


async def test_every_change_shows_on_the_very_next_read(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    me = await make_user("me")
    ana, bo, cy = await make_user("ana"), await make_user("bo"), await make_user("cy")
    for other in (ana, bo, cy):
        await _follow(runtime, me, other)
    now = datetime.now(UTC)
    await _story(runtime, ana, "ana 1", at=now - timedelta(hours=3))
    tray = Tray(client, me, settings)
    assert _authors(await tray.kept()) == ["ana"]

    # a followed account posts
    await _story(runtime, bo, "bo 1", at=now - timedelta(hours=2))
    assert _authors(await tray.changed()) == ["bo", "ana"]  # newest first
    await tray.kept()

    # the viewer sees ana's story: seen reels go last
    ana_id = to_global_id("Story", await _story_id(runtime, ana))
    marked = await client.mutate(
        "markStoriesSeen", "marked", {"storyIds": [ana_id]}, token=tray.token
    )
    assert marked == {"marked": 1, "errors": []}
    reels = await tray.changed()
    assert _authors(reels) == ["bo", "ana"]
    assert [r["hasUnseen"] for r in reels] == [True, False]
    assert reels[1]["stories"][0]["viewerHasSeen"] is True
    await tray.kept()

    # the viewer's affinity reorders unseen reels
    await _story(runtime, cy, "cy 1", at=now - timedelta(hours=1))
    assert _authors(await tray.changed()) == ["cy", "bo", "ana"]  # newest first
    await tray.kept()
    await runtime.stories.bump_affinity(me.id, bo.id, 5.0)
    assert _authors(await tray.changed()) == ["bo", "cy", "ana"]
    await tray.kept()

    # a profile edit
    edited = await client.mutate(
        "updateProfile", "user { fullName }", {"fullName": "Bo B"}, token=token_for(bo, settings)
    )
    assert edited == {"user": {"fullName": "Bo B"}, "errors": []}
    assert (await tray.changed())[0]["user"] == {"username": "bo", "fullName": "Bo B"}
    await tray.kept()

    # an unfollow
    await graph.unfollow(follower_id=me.id, followee_id=cy.id, users=runtime.users)
    assert _authors(await tray.changed()) == ["bo", "ana"]
    await tray.kept()

    # a block by the author
    await graph.block(blocker_id=ana.id, blocked_id=me.id, users=runtime.users)
    assert _authors(await tray.changed()) == ["bo"]
    await tray.kept()

    # a deactivation
    await lifecycle.suspend(user_id=bo.id, users=runtime.users)
    assert await tray.changed() == []
    assert await tray.kept() == []


async def _story_id(runtime: Runtime, author: User) -> int:
    live = await runtime.stories.live_ids([author.id], at_ms=0)
    return live[author.id][0]


async def test_close_friends_and_the_viewers_own_story(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    me, ana = await make_user("me"), await make_user("ana")
    await _follow(runtime, me, ana)
    await _story(runtime, ana, "for friends", audience=Audience.CLOSE_FRIENDS)
    await _story(runtime, ana, "for all")
    tray = Tray(client, me, settings)

    def captions(reels: list[dict[str, Any]]) -> list[str]:
        return [s["caption"] for r in reels for s in r["stories"]]

    assert captions(await tray.kept()) == ["for all"]
    ana_t = token_for(ana, settings)
    await client.mutate("addCloseFriend", "user { id }", {"userId": gid(me)}, token=ana_t)
    assert captions(await tray.changed()) == ["for friends", "for all"]
    await tray.kept()
    await client.mutate("removeCloseFriend", "user { id }", {"userId": gid(me)}, token=ana_t)
    assert captions(await tray.changed()) == ["for all"]
    await tray.kept()
    # the viewer's own story leads their tray
    await _story(runtime, me, "mine")
    assert captions(await tray.changed()) == ["mine", "for all"]


async def test_a_kept_tray_never_outlives_its_first_story(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    me, ana = await make_user("me"), await make_user("ana")
    await _follow(runtime, me, ana)
    await _story(runtime, ana, "ending", at=datetime.now(UTC) - timedelta(hours=24, seconds=-2))
    await _story(runtime, ana, "staying")
    tray = Tray(client, me, settings)
    reels = await tray.kept()
    assert [s["caption"] for s in reels[0]["stories"]] == ["ending", "staying"]
    ends = datetime.fromisoformat(reels[0]["stories"][0]["expiresAt"])
    await asyncio.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.05)
    reels = await tray.changed()
    assert [s["caption"] for s in reels[0]["stories"]] == ["staying"]


@pytest.mark.parametrize(
    "query",
    [
        "{ storyTray { user { username followerCount } } }",  # counts change without a note
        "{ storyTray { stories { id viewCount } } }",
        "{ storyTray { user { username } } viewer { id } }",  # another root field
        "{ storyTray { user @include(if: true) { username } } }",
    ],
)
async def test_documents_with_fields_the_fingerprint_does_not_cover_always_run(
    client: GraphQLClient, settings: Settings, runtime: Runtime, query: str
) -> None:
    me, ana = await make_user("me"), await make_user("ana")
    await _follow(runtime, me, ana)
    await _story(runtime, ana, "hi")
    tray = Tray(client, me, settings)
    before = await _answers(client)
    for _ in range(2):
        body = await client.raw(query, token=tray.token)
        assert "errors" not in body, body
    after = await _answers(client)
    assert after.get("kept", 0) == before.get("kept", 0)
    assert after.get("made", 0) == before.get("made", 0)


async def test_each_document_and_variables_keep_their_own_answer(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    me, ana = await make_user("me"), await make_user("ana")
    await _follow(runtime, me, ana)
    await _story(runtime, ana, "hi")
    token = token_for(me, settings)
    query = "query($w: Int) { storyTray { stories { media { url(width: $w) } } } }"
    urls = set()
    for width in (150, 1080, 150, 1080):
        body = await client.raw(query, {"w": width}, token=token)
        urls.add((width, body["data"]["storyTray"][0]["stories"][0]["media"]["url"]))
    assert len(urls) == 2
    small = (await client.raw("{ storyTray { user { username } } }", token=token))["data"]
    assert small == {"storyTray": [{"user": {"username": "ana"}}]}
    # another viewer never gets this viewer's answer
    other = await make_user("other")
    body = await client.raw("{ storyTray { user { username } } }", token=token_for(other, settings))
    assert body["data"] == {"storyTray": []}


async def test_two_changes_within_a_millisecond_are_two_changes(runtime: Runtime) -> None:
    """An account's change note moves forward every time: a tray kept between two changes in
    one millisecond is not taken for one kept after both."""
    scores = []
    for _ in range(3):
        await note_changed(runtime.redis, 42)
        scores.append(await runtime.redis.zscore(CHANGED, "42"))
    assert scores[0] < scores[1] < scores[2]
