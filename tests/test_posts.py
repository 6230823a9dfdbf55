"""Posts, likes, saves and comments end to end over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from config.runtime import Runtime
from config.settings import Settings
from domain.media.models import Media
from domain.posts import counters
from domain.posts.models import Comment, Hashtag, Like, Post
from domain.users.models import User
from tests import factories
from tests.client import GraphQLClient
from tests.factories import follow, gid, make_media, make_user, media_gid, token_for
from tests.jobs import drain
from workers.queues import DEFAULT_QUEUE

pytestmark = pytest.mark.topology  # runs on the Redis Cluster too (make test-cluster)

POST = """post { id kind caption hashtags likeCount commentCount viewerHasLiked viewerHasSaved
  author { username postCount } mentions { username } media { id url } }"""
GET_POST = "query($id: ID!) { post(id: $id) { id caption likeCount commentCount saveCount } }"


async def create_post(
    client: GraphQLClient, token: str, media: list[Media], caption: str = ""
) -> dict[str, Any]:
    return await factories.create_post(client, token, media, caption, fields=POST)


async def test_create_a_photo_post(client: GraphQLClient, settings: Settings) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    photo = await make_media(ana)
    token = token_for(ana, settings)

    payload = await create_post(
        client, token, [photo], "Sunset at #Lisbon with @bo and @nobody #travel #lisbon"
    )

    assert payload["errors"] == []
    post = payload["post"]
    assert post["kind"] == "PHOTO"
    assert post["hashtags"] == ["lisbon", "travel"]
    assert post["mentions"] == [{"username": "bo"}]
    assert post["author"] == {"username": "ana", "postCount": 1}
    assert post["media"][0]["url"].endswith("/w1080.jpg")
    tag = await client.query(
        '{ hashtag(name: "#Lisbon") { name postCount posts { edges { node { id } } } } }',
        token=token,
    )
    assert tag["hashtag"]["postCount"] == 1
    assert tag["hashtag"]["posts"]["edges"] == [{"node": {"id": post["id"]}}]
    listed = await client.query(
        '{ user(username: "ana") { posts { edges { node { id } } } } }',
        token=token_for(bo, settings),
    )
    assert listed["user"]["posts"]["edges"] == [{"node": {"id": post["id"]}}]


async def test_carousel_keeps_media_order(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    media = [await make_media(ana) for _ in range(3)]
    payload = await create_post(client, token_for(ana, settings), list(reversed(media)))
    assert payload["post"]["kind"] == "CAROUSEL"
    assert [m["id"] for m in payload["post"]["media"]] == [media_gid(m) for m in reversed(media)]


async def test_bad_posts_are_refused_and_nothing_is_written(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    token = token_for(ana, settings)
    ready = await make_media(ana)
    pending = await make_media(ana, status="PROCESSING")
    theirs = await make_media(bo)
    eleven = [await make_media(ana) for _ in range(11)]
    cases: list[tuple[list[Media], str, str]] = [
        ([], "", "1 to 10"),
        (eleven, "", "1 to 10"),
        ([ready, ready], "", "appears twice"),
        ([ready, pending], "", "Media #2 is PROCESSING, not READY yet."),
        ([theirs], "", "Media #1 does not exist."),
        ([ready], "x" * 2201, "at most 2200 characters"),
        ([ready], " ".join(f"#t{i}" for i in range(31)), "at most 30 hashtags"),
        ([ready], " ".join(f"@u{i}" for i in range(21)), "at most 20 accounts"),
    ]
    for media, caption, message in cases:
        payload = await create_post(client, token, media, caption)
        assert payload["post"] is None
        assert message in payload["errors"][0]["message"], (message, payload["errors"])
    assert await Post.all().count() == 0
    assert await Media.filter(attached_at__not_isnull=True).count() == 0
    assert await Hashtag.all().count() == 0
    assert (await User.get(id=ana.id)).post_count == 0


async def test_media_cannot_be_used_twice(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    photo = await make_media(ana)
    token = token_for(ana, settings)
    assert (await create_post(client, token, [photo]))["errors"] == []
    again = await create_post(client, token, [photo])
    assert again["errors"][0]["message"] == "Media #1 is already used by another post."


async def test_reels(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    token = token_for(ana, settings)
    clip = await make_media(ana, kind="VIDEO", duration_ms=15_000)
    photo = await make_media(ana)
    reel = await client.mutate(
        "createReel", "post { kind }", {"mediaId": media_gid(clip), "caption": "#reel"}, token=token
    )
    assert reel == {"post": {"kind": "REEL"}, "errors": []}
    refused = await client.mutate(
        "createReel", "post { kind }", {"mediaId": media_gid(photo)}, token=token
    )
    assert refused["errors"][0]["message"] == "A reel is a video."
    reels = await client.query('{ user(username: "ana") { reels { edges { node { kind } } } } }')
    assert reels["user"]["reels"]["edges"] == [{"node": {"kind": "REEL"}}]


async def test_edit_caption_moves_hashtags(client: GraphQLClient, settings: Settings) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    token = token_for(ana, settings)
    post = (await create_post(client, token, [await make_media(ana)], "#old #kept"))["post"]

    edited = await client.mutate(
        "editPost",
        "post { caption hashtags }",
        {"postId": post["id"], "caption": "#kept #new"},
        token=token,
    )

    assert edited["post"] == {"caption": "#kept #new", "hashtags": ["kept", "new"]}
    counts = {t.name: t.post_count for t in await Hashtag.all()}
    assert counts == {"old": 0, "kept": 1, "new": 1}
    refused = await client.mutate(
        "editPost",
        "post { caption }",
        {"postId": post["id"], "caption": "mine now"},
        token=token_for(bo, settings),
    )
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]


async def test_delete_post_removes_it_everywhere(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    token, bo_token = token_for(ana, settings), token_for(bo, settings)
    photo = await make_media(ana)
    post = (await create_post(client, token, [photo], "#gone"))["post"]
    await client.mutate("likePost", "post { likeCount }", {"postId": post["id"]}, token=bo_token)
    await client.mutate(
        "addComment", "comment { id }", {"postId": post["id"], "text": "nice"}, token=bo_token
    )

    refused = await client.mutate("deletePost", "deletedId", {"postId": post["id"]}, token=bo_token)
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    deleted = await client.mutate("deletePost", "deletedId", {"postId": post["id"]}, token=token)
    assert deleted == {"deletedId": post["id"], "errors": []}

    assert (await client.query(GET_POST, {"id": post["id"]}, token=token))["post"] is None
    data = await client.query(
        '{ user(username: "ana") { postCount posts { edges { cursor } } }'
        ' hashtag(name: "gone") { postCount } }',
        token=token,
    )
    assert data == {"user": {"postCount": 0, "posts": {"edges": []}}, "hashtag": {"postCount": 0}}
    assert await Like.all().count() == 0
    assert await Comment.all().count() == 0
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)  # the files go by a job
    assert await Media.filter(id=photo.id).count() == 0


async def test_likes_are_idempotent_and_exact(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana = await make_user("ana")
    post = (await create_post(client, token_for(ana, settings), [await make_media(ana)]))["post"]
    fans = [await make_user(f"fan{i}") for i in range(30)]

    # 30 people like it at once, and the first one likes it three times.
    likes = [
        client.mutate(
            "likePost", "post { likeCount }", {"postId": post["id"]}, token=token_for(fan, settings)
        )
        for fan in fans
    ]
    likes += [
        client.mutate(
            "likePost",
            "post { likeCount }",
            {"postId": post["id"]},
            token=token_for(fans[0], settings),
        )
        for _ in range(2)
    ]
    await asyncio.gather(*likes)
    unliked = await client.mutate(
        "unlikePost",
        "post { likeCount viewerHasLiked }",
        {"postId": post["id"]},
        token=token_for(fans[1], settings),
    )
    assert unliked["post"] == {"likeCount": 29, "viewerHasLiked": False}
    again = await client.mutate(
        "unlikePost",
        "post { likeCount }",
        {"postId": post["id"]},
        token=token_for(fans[1], settings),
    )
    assert again["post"] == {"likeCount": 29}

    # The flush writes the exact value to the row; Redis stays the live source meanwhile.
    assert (await Post.get()).like_count == 0
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)
    assert (await Post.get()).like_count == 29
    # With the Redis counter gone (evicted, or Redis lost), the row answers exactly.
    await runtime.redis.delete(counters.counter_key("post", (await Post.get()).id))
    assert (await client.query(GET_POST, {"id": post["id"]}))["post"]["likeCount"] == 29
    liked = await client.mutate(
        "likePost", "post { likeCount }", {"postId": post["id"]}, token=token_for(fans[1], settings)
    )
    assert liked["post"] == {"likeCount": 30}


async def test_comments_and_one_level_of_replies(client: GraphQLClient, settings: Settings) -> None:
    ana, bo, cy = await make_user("ana"), await make_user("bo"), await make_user("cy")
    token = token_for(ana, settings)
    post = (await create_post(client, token, [await make_media(ana)]))["post"]
    add = "comment { id text replyTo { id } }"
    top = (
        await client.mutate(
            "addComment",
            add,
            {"postId": post["id"], "text": " first "},
            token=token_for(bo, settings),
        )
    )["comment"]
    reply = (
        await client.mutate(
            "addComment",
            add,
            {"postId": post["id"], "text": "reply", "replyToId": top["id"]},
            token=token_for(cy, settings),
        )
    )["comment"]
    deeper = (
        await client.mutate(
            "addComment",
            add,
            {"postId": post["id"], "text": "deeper", "replyToId": reply["id"]},
            token=token,
        )
    )["comment"]

    assert top["text"] == "first"
    assert reply["replyTo"] == {"id": top["id"]}
    assert deeper["replyTo"] == {"id": top["id"]}  # a reply to a reply joins the thread
    data = await client.query(
        """query($id: ID!) { post(id: $id) { commentCount comments {
        edges { node { id replyCount replies { edges { node { text } } } } } } } }""",
        {"id": post["id"]},
    )
    assert data["post"]["commentCount"] == 3
    [edge] = data["post"]["comments"]["edges"]
    assert edge["node"]["replyCount"] == 2
    assert [e["node"]["text"] for e in edge["node"]["replies"]["edges"]] == ["reply", "deeper"]

    stranger = await client.mutate(
        "deleteComment",
        "deletedId",
        {"commentId": reply["id"]},
        token=token_for(await make_user("dee"), settings),
    )
    assert [e["code"] for e in stranger["errors"]] == ["FORBIDDEN"]
    by_owner = await client.mutate(
        "deleteComment", "deletedId", {"commentId": top["id"]}, token=token
    )
    assert by_owner["errors"] == []
    after = await client.query(GET_POST, {"id": post["id"]})
    assert after["post"]["commentCount"] == 0
    assert await Comment.all().count() == 0


async def test_bad_comments(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    token = token_for(ana, settings)
    post = (await create_post(client, token, [await make_media(ana)]))["post"]
    other = (await create_post(client, token, [await make_media(ana)]))["post"]
    elsewhere = await client.mutate(
        "addComment", "comment { id }", {"postId": other["id"], "text": "hi"}, token=token
    )
    cases = [
        ({"postId": post["id"], "text": "   "}, "text"),
        ({"postId": post["id"], "text": "x" * 2201}, "text"),
        (
            {"postId": post["id"], "text": "hi", "replyToId": elsewhere["comment"]["id"]},
            "replyToId",
        ),
        ({"postId": "bogus", "text": "hi"}, "postId"),
    ]
    for input_, field in cases:
        payload = await client.mutate("addComment", "comment { id }", input_, token=token)
        assert payload["errors"][0]["field"] == field, input_
    assert await Comment.all().count() == 1


async def test_saves(client: GraphQLClient, settings: Settings) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    post = (await create_post(client, token_for(ana, settings), [await make_media(ana)]))["post"]
    bo_token = token_for(bo, settings)
    saved = await client.mutate(
        "savePost", "post { viewerHasSaved saveCount }", {"postId": post["id"]}, token=bo_token
    )
    assert saved["post"] == {"viewerHasSaved": True, "saveCount": 1}
    listed = await client.query(
        "{ viewer { savedPosts { edges { node { id } } } } }", token=bo_token
    )
    assert listed["viewer"]["savedPosts"]["edges"] == [{"node": {"id": post["id"]}}]
    await client.mutate(
        "unsavePost", "post { viewerHasSaved }", {"postId": post["id"]}, token=bo_token
    )
    listed = await client.query(
        "{ viewer { savedPosts { edges { node { id } } } } }", token=bo_token
    )
    assert listed["viewer"]["savedPosts"]["edges"] == []


async def test_private_posts_are_for_approved_followers(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    hiro = await make_user("hiro", private=True)
    friend, stranger = await make_user("friend"), await make_user("stranger")
    await follow(friend, hiro, runtime.users)
    await client.mutate(
        "approveFollowRequest",
        "user { id }",
        {"userId": gid(friend)},
        token=token_for(hiro, settings),
    )
    post = (
        await create_post(client, token_for(hiro, settings), [await make_media(hiro)], "#secret")
    )["post"]
    friend_token, stranger_token = token_for(friend, settings), token_for(stranger, settings)

    assert (await client.query(GET_POST, {"id": post["id"]}, token=friend_token))["post"]
    assert (await client.query(GET_POST, {"id": post["id"]}, token=stranger_token))["post"] is None
    tag = '{ hashtag(name: "secret") { posts { edges { node { id } } } } }'
    assert len((await client.query(tag, token=friend_token))["hashtag"]["posts"]["edges"]) == 1
    assert (await client.query(tag, token=stranger_token))["hashtag"]["posts"]["edges"] == []
    refused = await client.mutate(
        "likePost", "post { id }", {"postId": post["id"]}, token=stranger_token
    )
    assert [e["code"] for e in refused["errors"]] == ["NOT_FOUND"]
    assert await Like.all().count() == 0


async def test_blocked_users_cannot_see_or_touch_posts(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    ana_token, bo_token = token_for(ana, settings), token_for(bo, settings)
    post = (await create_post(client, ana_token, [await make_media(ana)]))["post"]
    comment = await client.mutate(
        "addComment", "comment { id }", {"postId": post["id"], "text": "hi"}, token=bo_token
    )
    await client.mutate("block", "blocked", {"userId": gid(bo)}, token=ana_token)

    assert (await client.query(GET_POST, {"id": post["id"]}, token=bo_token))["post"] is None
    for name, input_ in [
        ("likePost", {"postId": post["id"]}),
        ("addComment", {"postId": post["id"], "text": "again"}),
        ("savePost", {"postId": post["id"]}),
    ]:
        selection = "comment { id }" if name == "addComment" else "post { id }"
        payload = await client.mutate(name, selection, input_, token=bo_token)
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"], name
    # The blocked account's comment no longer shows to the blocker.
    data = await client.query(
        "query($id: ID!) { post(id: $id) { comments { edges { node { id } } } } }",
        {"id": post["id"]},
        token=ana_token,
    )
    assert data["post"]["comments"]["edges"] == []
    assert comment["errors"] == []


async def test_avatar(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    token = token_for(ana, settings)
    photo, pending = await make_media(ana), await make_media(ana, status="PENDING")
    refused = await client.mutate(
        "updateProfile",
        "user { avatar { id } }",
        {"avatarMediaId": media_gid(pending)},
        token=token,
    )
    assert refused["errors"][0]["field"] == "avatarMediaId"
    done = await client.mutate(
        "updateProfile",
        "user { avatar { id url(width: 150) } }",
        {"avatarMediaId": media_gid(photo)},
        token=token,
    )
    assert done["user"]["avatar"]["id"] == media_gid(photo)
    removed = await client.mutate(
        "updateProfile", "user { avatar { id } }", {"avatarMediaId": None}, token=token
    )
    assert removed["user"] == {"avatar": None}


async def test_comments_page_backward_with_last_and_before(
    client: GraphQLClient, settings: Settings
) -> None:
    ana = await make_user("ana")
    token = token_for(ana, settings)
    post = (await create_post(client, token, [await make_media(ana)], "talk"))["post"]
    for n in range(1, 6):
        await client.mutate(
            "addComment", "comment { id }", {"postId": post["id"], "text": f"c{n}"}, token=token
        )
    query = """query($id: ID!, $last: Int, $before: String, $first: Int) { post(id: $id) {
      comments(last: $last, before: $before, first: $first) { edges { node { text } }
      pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } } }"""
    newest = (await client.query(query, {"id": post["id"], "first": 2}, token=token))["post"]
    assert [e["node"]["text"] for e in newest["comments"]["edges"]] == ["c5", "c4"]
    back = (
        await client.query(
            query,
            {"id": post["id"], "last": 1, "before": newest["comments"]["pageInfo"]["endCursor"]},
            token=token,
        )
    )["post"]["comments"]
    assert [e["node"]["text"] for e in back["edges"]] == ["c5"]
    assert back["pageInfo"]["hasPreviousPage"] is False
    oldest = (await client.query(query, {"id": post["id"], "last": 2}, token=token))["post"]
    assert [e["node"]["text"] for e in oldest["comments"]["edges"]] == ["c2", "c1"]
    assert oldest["comments"]["pageInfo"]["hasPreviousPage"] is True
