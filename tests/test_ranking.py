"""The ranked feed: the ranking job's scores, the fallback before it ran, and paging past it."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from tortoise import connections

from config.runtime import Runtime
from config.settings import Settings
from domain.ranking import service as ranking
from tests.client import GraphQLClient
from tests.factories import create_post, follow, make_media, make_user, token_for
from tests.jobs import drain
from tests.test_feed import bulk_posts
from workers.queues import RANKING_QUEUE

RANKED = """query($after: String, $first: Int, $order: FeedOrder) {
  feed(first: $first, after: $after, order: $order) {
    edges { cursor node { id caption } } pageInfo { hasNextPage endCursor } } }"""


async def set_likes(post_id: int, likes: int) -> None:
    await connections.get("default").execute_query(
        "UPDATE posts SET like_count = $2, caption = $3 WHERE id = $1",
        [post_id, likes, f"{likes} likes"],
    )


async def read_all(client: GraphQLClient, token: str, order: str, first: int) -> list[str]:
    captions: list[str] = []
    after = None
    for _ in range(100):
        data: dict[str, Any] = (
            await client.query(
                RANKED, {"after": after, "first": first, "order": order}, token=token
            )
        )["feed"]
        captions += [edge["node"]["caption"] for edge in data["edges"]]
        if not data["pageInfo"]["hasNextPage"]:
            return captions
        after = data["pageInfo"]["endCursor"]
    raise AssertionError("the feed did not end")


async def test_ranked_feed_is_newest_first_until_ranked_then_by_score(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    # given: three posts of a followed account; the oldest is by far the most liked
    author, reader = await make_user("author"), await make_user("reader")
    await follow(reader, author, runtime.users)
    liked, plain, newest = await bulk_posts([author.id], 3)
    await set_likes(liked, 5_000)
    await set_likes(plain, 0)
    await set_likes(newest, 1)
    token = token_for(reader, settings)

    # when: the reader opens RANKED before any ranking ran
    before = await read_all(client, token, "RANKED", first=10)

    # then: newest first, and the read asked for a ranking, which the worker runs
    assert before == ["1 likes", "0 likes", "5000 likes"]
    assert (await drain(RANKING_QUEUE, settings=settings, runtime=runtime)).jobs_complete == 1

    # when: the reader opens it again
    after = await read_all(client, token, "RANKED", first=10)

    # then: the much-liked post leads; CHRONOLOGICAL is untouched
    assert after == ["5000 likes", "1 likes", "0 likes"]
    assert await read_all(client, token, "CHRONOLOGICAL", first=10) == before


async def test_paging_a_ranked_feed_goes_on_newest_first_below_the_snapshot(
    client: GraphQLClient, settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: 30 posts, and a ranking that scores only the newest 10
    monkeypatch.setattr(ranking, "RANK_CANDIDATES", 10)
    author, reader = await make_user("author"), await make_user("reader")
    await follow(reader, author, runtime.users)
    ids = await bulk_posts([author.id], 30)
    for likes, post_id in enumerate(ids):
        await set_likes(post_id, likes % 7)
    assert await ranking.rank_feed(user_id=reader.id, stores=runtime.feed_stores) == 10
    token = token_for(reader, settings)

    # when: the reader pages through RANKED, four at a time
    seen = await read_all(client, token, "RANKED", first=4)

    # then: every post once; the newest 10 by score, then the rest newest first
    newest, rest = ids[20:], ids[:20]
    expected_head = sorted(newest, key=lambda i: (ids.index(i) % 7, i), reverse=True)
    assert seen[:10] == [f"{ids.index(i) % 7} likes" for i in expected_head]
    assert seen[10:] == [f"{ids.index(i) % 7} likes" for i in reversed(rest)]


async def test_a_bad_ranked_cursor_is_refused(client: GraphQLClient, settings: Settings) -> None:
    reader = await make_user("reader")
    token = token_for(reader, settings)
    for raw in ["r:nan:1", "r:1.5:x", "r:inf:12", "r::"]:
        cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        response = await client.post(
            RANKED, {"after": cursor, "first": 3, "order": "RANKED"}, token=token
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", raw


async def test_own_new_post_tops_a_ranked_feed_at_once(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    # given: a reader with a ranked feed in which a much-liked post leads
    author, reader = await make_user("author"), await make_user("reader")
    await follow(reader, author, runtime.users)
    [liked] = await bulk_posts([author.id], 1)
    await set_likes(liked, 5_000)
    assert await ranking.rank_feed(user_id=reader.id, stores=runtime.feed_stores) == 1
    token = token_for(reader, settings)
    assert await read_all(client, token, "RANKED", first=10) == ["5000 likes"]

    # when: the reader posts
    await create_post(client, token, [await make_media(reader)], "mine")

    # then: their post is on top at once, and a new ranking is asked for
    assert await read_all(client, token, "RANKED", first=10) == ["mine", "5000 likes"]
    assert (await drain(RANKING_QUEUE, settings=settings, runtime=runtime)).jobs_complete == 1
