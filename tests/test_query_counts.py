"""Pins the SQL statements a query costs, so that an N+1 can never come back.

The live server reports each operation's statement count in `extensions.sqlStatements`
(outside production).
"""

from __future__ import annotations

from config.runtime import Runtime
from config.settings import Settings
from tests.client import GraphQLClient
from tests.factories import fan_out, follow, make_user, token_for

FOLLOWERS = """{ user(username: "star") { followers(first: 20) {
    edges { node { username followerCount viewerFollows } } } } }"""


async def statements(client: GraphQLClient, query: str, token: str) -> int:
    body = await client.raw(query, token=token)
    assert "errors" not in body, body
    count: int = body["extensions"]["sqlStatements"]
    return count


async def test_followers_page_costs_the_same_for_5_or_20_followers(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    star, viewer = await make_user("star"), await make_user("viewer")
    token = token_for(viewer, settings)
    fans = [await make_user(f"fan{i:02d}") for i in range(25)]
    for fan in fans[:5]:
        await follow(fan, star, runtime.users)
    await runtime.redis.flushdb()  # a cold cache
    few_cold = await statements(client, FOLLOWERS, token)
    for fan in fans[5:]:
        await follow(fan, star, runtime.users)
    await follow(viewer, fans[0], runtime.users)
    await runtime.redis.flushdb()

    cold = await statements(client, FOLLOWERS, token)
    warm = await statements(client, FOLLOWERS, token)

    # Cold: username -> id, the user, the viewer's blocks with them, the followers page,
    # the 20 followers in one batch, the viewer's follow state for all 20 in one batch.
    assert cold == few_cold == 6
    # Warm: users and the username come from Redis; only per-viewer facts and the page remain.
    assert warm == 3


async def test_signed_out_followers_page(client: GraphQLClient, runtime: Runtime) -> None:
    star = await make_user("star")
    for i in range(20):
        await follow(await make_user(f"fan{i:02d}"), star, runtime.users)
    cold = await client.raw(FOLLOWERS)
    warm = await client.raw(FOLLOWERS)

    edges = warm["data"]["user"]["followers"]["edges"]
    assert len(edges) == 20
    assert all(edge["node"]["viewerFollows"] is False for edge in edges)
    # Signed out there are no per-viewer lookups: username, user, page, the followers batch...
    assert cold["extensions"]["sqlStatements"] == 4
    # ... and once Redis holds the users, only the page itself.
    assert warm["extensions"]["sqlStatements"] == 1


POSTS = """{ user(username: "ana") { posts(first: 10) { edges { node {
    caption likeCount commentCount viewerHasLiked viewerHasSaved
    author { username } media { url(width: 640) } } } } } }"""


async def test_a_page_of_posts_costs_the_same_for_3_or_10_posts(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    from domain.posts import flows as posts
    from tests.factories import make_media

    ana, viewer = await make_user("ana"), await make_user("viewer")
    token = token_for(viewer, settings)

    async def add_posts(count: int) -> None:
        for _ in range(count):
            media = [await make_media(ana), await make_media(ana)]
            await posts.create_post(
                author_id=ana.id,
                media_ids=[m.id for m in media],
                caption="#x",
                stores=runtime.post_stores,
                ports=runtime.ports,
            )

    await add_posts(3)
    await runtime.redis.flushdb()
    few_cold = await statements(client, POSTS, token)
    await add_posts(7)
    await runtime.redis.flushdb()
    cold = await statements(client, POSTS, token)
    warm = await statements(client, POSTS, token)

    # Cold: username, user, blocks, the page, the posts, their media, likes, saves.
    assert cold == few_cold == 8
    # Warm: posts, media and users from Redis; the page and the per-viewer facts remain.
    assert warm == 4


FEED_PAGE = """{ feed(first: 10) { edges { node {
    caption likeCount commentCount author { username } media { url(width: 640) } } } } }"""


async def test_a_warm_feed_page_runs_no_sql(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    from domain.posts import flows as posts
    from tests.factories import make_media

    viewer = await make_user("viewer")
    token = token_for(viewer, settings)
    authors = [await make_user(f"author{i}") for i in range(4)]
    for author in authors:
        await follow(viewer, author, runtime.users)
        for _ in range(4):
            media = await make_media(author)
            post_id = await posts.create_post(
                author_id=author.id,
                media_ids=[media.id],
                caption="hi",
                stores=runtime.post_stores,
                ports=runtime.ports,
            )
            await fan_out(runtime, post_id)
    await runtime.redis.flushdb()  # nothing cached, not even the feed

    cold = await statements(client, FEED_PAGE, token)
    warm = await statements(client, FEED_PAGE, token)
    with_likes = await statements(
        client, FEED_PAGE.replace("caption", "caption viewerHasLiked"), token
    )

    # Cold: whom the viewer follows, the rebuild (one pass: no author has 40 posts), the
    # followees, the posts, their media.
    assert cold == 5
    # Warm: all from Redis (the window, the posts, the users, the media).
    assert warm == 0
    # The viewer's likes are one batched statement for the whole page.
    assert with_likes == 1
