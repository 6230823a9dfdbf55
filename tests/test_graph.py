"""The follow graph end to end over HTTP."""

from __future__ import annotations

from config.runtime import Runtime
from config.settings import Settings
from domain.graph import service as graph
from domain.graph.models import Block, Follow
from domain.posts.models import Hashtag
from tests.client import GraphQLClient
from tests.factories import follow, gid, make_user, token_for

FOLLOW = "status user { username followerCount viewerFollows viewerFollowState }"
COUNTS = "query($u: String!) { user(username: $u) { followerCount followingCount } }"


async def counts(client: GraphQLClient, username: str) -> tuple[int, int]:
    user = (await client.query(COUNTS, {"u": username}))["user"]
    return user["followerCount"], user["followingCount"]


async def test_follow_a_public_account(client: GraphQLClient, settings: Settings) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")

    payload = await client.mutate(
        "follow", FOLLOW, {"userId": gid(bo)}, token=token_for(ana, settings)
    )

    assert payload == {
        "status": "ACTIVE",
        "errors": [],
        "user": {
            "username": "bo",
            "followerCount": 1,
            "viewerFollows": True,
            "viewerFollowState": "ACTIVE",
        },
    }
    assert await counts(client, "ana") == (0, 1)
    assert await counts(client, "bo") == (1, 0)


async def test_following_twice_changes_nothing(client: GraphQLClient, settings: Settings) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    token = token_for(ana, settings)
    for _ in range(3):
        payload = await client.mutate("follow", FOLLOW, {"userId": gid(bo)}, token=token)
        assert payload["status"] == "ACTIVE"
    assert await Follow.all().count() == 1
    assert await counts(client, "bo") == (1, 0)


async def test_unfollow(client: GraphQLClient, settings: Settings, runtime: Runtime) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await follow(ana, bo, runtime.users)
    token = token_for(ana, settings)
    payload = await client.mutate(
        "unfollow", "user { viewerFollows followerCount }", {"userId": gid(bo)}, token=token
    )
    assert payload["user"] == {"viewerFollows": False, "followerCount": 0}
    # Unfollowing again is a harmless no-op.
    again = await client.mutate(
        "unfollow", "user { followerCount }", {"userId": gid(bo)}, token=token
    )
    assert again["errors"] == []
    assert await counts(client, "ana") == (0, 0)


async def test_private_account_turns_follow_into_a_request(
    client: GraphQLClient, settings: Settings
) -> None:
    ana, hiro = await make_user("ana"), await make_user("hiro", private=True)
    payload = await client.mutate(
        "follow", FOLLOW, {"userId": gid(hiro)}, token=token_for(ana, settings)
    )
    assert payload["status"] == "PENDING"
    assert payload["user"]["viewerFollowState"] == "PENDING"
    assert payload["user"]["viewerFollows"] is False
    assert await counts(client, "hiro") == (0, 0)

    requests = await client.query(
        "{ viewer { followRequests(first: 10) { edges { node { username } } } } }",
        token=token_for(hiro, settings),
    )
    assert [e["node"]["username"] for e in requests["viewer"]["followRequests"]["edges"]] == ["ana"]

    approved = await client.mutate(
        "approveFollowRequest",
        "user { username followsViewer }",
        {"userId": gid(ana)},
        token=token_for(hiro, settings),
    )
    assert approved["user"] == {"username": "ana", "followsViewer": True}
    assert await counts(client, "hiro") == (1, 0)
    assert await counts(client, "ana") == (0, 1)


async def test_reject_a_follow_request(client: GraphQLClient, settings: Settings) -> None:
    ana, hiro = await make_user("ana"), await make_user("hiro", private=True)
    await client.mutate("follow", "status", {"userId": gid(hiro)}, token=token_for(ana, settings))
    hiro_token = token_for(hiro, settings)
    rejected = await client.mutate(
        "rejectFollowRequest", "user { username }", {"userId": gid(ana)}, token=hiro_token
    )
    assert rejected["errors"] == []
    assert await Follow.all().count() == 0
    # Nothing left to settle.
    again = await client.mutate(
        "approveFollowRequest", "user { username }", {"userId": gid(ana)}, token=hiro_token
    )
    assert [e["code"] for e in again["errors"]] == ["NOT_FOUND"]
    assert await counts(client, "hiro") == (0, 0)


async def test_going_public_approves_waiting_requests(
    client: GraphQLClient, settings: Settings
) -> None:
    hiro = await make_user("hiro", private=True)
    fans = [await make_user(f"fan{i}") for i in range(3)]
    for fan in fans:
        await client.mutate(
            "follow", "status", {"userId": gid(hiro)}, token=token_for(fan, settings)
        )
    await client.mutate(
        "updateProfile", "user { isPrivate }", {"isPrivate": False}, token=token_for(hiro, settings)
    )
    assert await counts(client, "hiro") == (3, 0)
    assert await counts(client, "fan0") == (0, 1)


async def test_follow_yourself_is_refused(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    payload = await client.mutate(
        "follow", FOLLOW, {"userId": gid(ana)}, token=token_for(ana, settings)
    )
    assert payload["errors"] == [
        {"field": "userId", "code": "CANNOT_FOLLOW_SELF", "message": "You cannot follow yourself."}
    ]
    assert await Follow.all().count() == 0


async def test_bad_ids_are_typed_errors(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    token = token_for(ana, settings)
    cases = {
        "not-base64!!": "INVALID_ID",
        "VXNlcjphYmM": "INVALID_ID",  # "User:abc"
        "UG9zdDox": "INVALID_ID",  # "Post:1", the wrong type
        "VXNlcjox": "NOT_FOUND",  # "User:1", no such user
    }
    for user_id, code in cases.items():
        payload = await client.mutate("follow", FOLLOW, {"userId": user_id}, token=token)
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [("userId", code)], user_id
    assert await Follow.all().count() == 0


async def test_follow_needs_a_signed_in_viewer(client: GraphQLClient) -> None:
    bo = await make_user("bo")
    payload = await client.mutate("follow", FOLLOW, {"userId": gid(bo)})
    assert [e["code"] for e in payload["errors"]] == ["UNAUTHENTICATED"]


async def test_block_ends_follows_both_ways_and_hides_each_from_the_other(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo, carla = await make_user("ana"), await make_user("bo"), await make_user("carla")
    await follow(ana, bo, runtime.users)
    await follow(bo, ana, runtime.users)
    await follow(carla, ana, runtime.users)
    await follow(carla, bo, runtime.users)
    ana_token, bo_token = token_for(ana, settings), token_for(bo, settings)

    blocked = await client.mutate("block", "blocked", {"userId": gid(bo)}, token=ana_token)

    assert blocked == {"blocked": True, "errors": []}
    assert (
        await Follow.filter(
            follower_id__in=[ana.id, bo.id], followee_id__in=[ana.id, bo.id]
        ).count()
        == 0
    )
    assert await counts(client, "ana") == (1, 0)
    assert await counts(client, "bo") == (1, 0)
    # Hidden from each other everywhere: by name, by id, in lists, in search.
    for token, other in [(ana_token, bo), (bo_token, ana)]:
        data = await client.query(
            "query($u: String!, $id: ID!) { user(username: $u) { id } node(id: $id) { id }"
            " search(query: $u) { users { edges { node { username } } } } }",
            {"u": other.username, "id": gid(other)},
            token=token,
        )
        assert data == {"user": None, "node": None, "search": {"users": {"edges": []}}}
        followers = await client.query(
            '{ user(username: "carla") { following { edges { node { username } } } } }',
            token=token,
        )
        names = [e["node"]["username"] for e in followers["user"]["following"]["edges"]]
        assert other.username not in names
    # The blocked one cannot follow back; to them the blocker does not exist.
    refused = await client.mutate("follow", FOLLOW, {"userId": gid(ana)}, token=bo_token)
    assert [e["code"] for e in refused["errors"]] == ["NOT_FOUND"]
    # The blocker must unblock first.
    own = await client.mutate("follow", FOLLOW, {"userId": gid(bo)}, token=ana_token)
    assert [e["code"] for e in own["errors"]] == ["BLOCKED"]
    assert (
        await Follow.filter(
            follower_id__in=[ana.id, bo.id], followee_id__in=[ana.id, bo.id]
        ).count()
        == 0
    )

    unblocked = await client.mutate(
        "unblock", "blocked user { username }", {"userId": gid(bo)}, token=ana_token
    )
    assert unblocked["blocked"] is False  # the same payload as block's
    assert unblocked["user"] == {"username": "bo"}
    assert await Block.all().count() == 0


async def test_block_yourself_is_refused(client: GraphQLClient, settings: Settings) -> None:
    ana = await make_user("ana")
    payload = await client.mutate(
        "block", "blocked", {"userId": gid(ana)}, token=token_for(ana, settings)
    )
    assert [e["code"] for e in payload["errors"]] == ["CANNOT_BLOCK_SELF"]
    assert await Block.all().count() == 0


async def test_followers_pages_are_stable_under_inserts(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    star = await make_user("star")
    fans = [await make_user(f"fan{i:02d}") for i in range(25)]
    for fan in fans:
        await follow(fan, star, runtime.users)
    query = """query($after: String) { user(username: "star") {
        followers(first: 10, after: $after) {
          edges { cursor node { username } } pageInfo { hasNextPage endCursor } } } }"""

    seen: list[str] = []
    after = None
    while True:
        page = (await client.query(query, {"after": after}))["user"]["followers"]
        seen += [e["node"]["username"] for e in page["edges"]]
        if len(seen) == 10:
            # New followers arrive between pages: they must not shift what comes next.
            for i in range(3):
                await follow(await make_user(f"late{i}"), star, runtime.users)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [f.username for f in reversed(fans)]  # newest first, no gaps, no repeats


async def test_private_lists_are_for_approved_followers(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    hiro = await make_user("hiro", private=True)
    friend, stranger = await make_user("friend"), await make_user("stranger")
    await follow(friend, hiro, runtime.users)
    await client.mutate(
        "approveFollowRequest",
        "user { username }",
        {"userId": gid(friend)},
        token=token_for(hiro, settings),
    )
    query = '{ user(username: "hiro") { followerCount followers { edges { node { username } } } } }'

    as_friend = await client.query(query, token=token_for(friend, settings))
    as_stranger = await client.query(query, token=token_for(stranger, settings))

    assert as_friend["user"]["followers"]["edges"] == [{"node": {"username": "friend"}}]
    assert as_stranger["user"] == {"followerCount": 1, "followers": {"edges": []}}


async def test_remove_follower(client: GraphQLClient, settings: Settings, runtime: Runtime) -> None:
    ana, bo = await make_user("ana"), await make_user("bo")
    await follow(bo, ana, runtime.users)
    payload = await client.mutate(
        "removeFollower",
        "user { followsViewer }",
        {"userId": gid(bo)},
        token=token_for(ana, settings),
    )
    assert payload["user"] == {"followsViewer": False}
    assert await counts(client, "ana") == (0, 0)


async def test_search_by_username_prefix(client: GraphQLClient, runtime: Runtime) -> None:
    popular = await make_user("anna_pop")
    await make_user("ann")
    await make_user("anders")
    await make_user("bob")
    for i in range(2):
        await follow(await make_user(f"z{i}"), popular, runtime.users)
    data = await client.query(
        '{ search(query: "ANN", first: 5) { users { edges { node { username } } } } }'
    )
    # The exact match first, then by followers.
    assert [e["node"]["username"] for e in data["search"]["users"]["edges"]] == ["ann", "anna_pop"]
    # LIKE wildcards in the query are taken literally.
    data = await client.query('{ search(query: "a%") { users { edges { node { username } } } } }')
    assert data["search"]["users"]["edges"] == []


async def test_user_lookup_is_case_insensitive(client: GraphQLClient) -> None:
    await make_user("ana")
    data = await client.query('{ user(username: "ANA") { username isViewer } }')
    assert data["user"] == {"username": "ana", "isViewer": False}
    assert (await client.query('{ user(username: "nobody") { username } }'))["user"] is None


async def test_node_fetches_a_user(client: GraphQLClient) -> None:
    ana = await make_user("ana")
    data = await client.query(
        "query($id: ID!) { node(id: $id) { id ... on User { username } } }", {"id": gid(ana)}
    )
    assert data["node"] == {"id": gid(ana), "username": "ana"}


async def test_malformed_node_id_is_a_clear_error(client: GraphQLClient) -> None:
    body = await client.raw('{ node(id: "%%%") { id } }')
    assert body["errors"][0]["message"] == "'id' is not a valid id."
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ID"


async def test_page_size_is_capped(client: GraphQLClient) -> None:
    await make_user("ana")
    body = await client.raw(
        '{ user(username: "ana") { followers(first: 10000) { edges { cursor } } } }'
    )
    assert body["errors"][0]["message"] == "'first' must be between 0 and 50; got 10000."
    body = await client.raw(
        '{ user(username: "ana") { followers(after: "bogus") { edges { cursor } } } }'
    )
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_lists_say_how_many_there_are_where_that_is_exact(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    ana, bo, cy = await make_user("ana"), await make_user("bo"), await make_user("cy")
    hiro = await make_user("hiro", private=True)
    for follower in (bo, cy):
        await follow(follower, ana, runtime.users)
    await follow(ana, hiro, runtime.users)  # a request: hiro is private
    counts = """query($u: String!) { user(username: $u) { followers(first: 1) { totalCount
      edges { node { id } } } following { totalCount } posts { totalCount } } }"""

    seen = (await client.query(counts, {"u": "ana"}, token=token_for(bo, settings)))["user"]
    assert seen["followers"]["totalCount"] == 2  # all of them, whatever the page holds
    assert len(seen["followers"]["edges"]) == 1
    assert seen["following"]["totalCount"] == 0  # the request is not a follow yet
    assert seen["posts"]["totalCount"] == 0
    # a private account's lists are empty to a stranger, and so are their counts
    await graph.approve_request(owner_id=hiro.id, requester_id=ana.id, users=runtime.users)
    hidden = (await client.query(counts, {"u": "hiro"}, token=token_for(cy, settings)))["user"]
    assert hidden["followers"]["totalCount"] == 0
    shown = (await client.query(counts, {"u": "hiro"}, token=token_for(ana, settings)))["user"]
    assert shown["followers"]["totalCount"] == 1


async def test_search_pages_through_users_and_hashtags(client: GraphQLClient) -> None:
    for n in range(7):
        await make_user(f"pag{n}")
    for n in range(4):
        await Hashtag.create(name=f"pag{n}", post_count=n + 1)
    query = """query($u: String, $h: String) { search(query: "pag", first: 3) {
      users(after: $u) { edges { node { username } } pageInfo { hasNextPage endCursor } }
      hashtags(after: $h) { edges { node { name } } pageInfo { hasNextPage endCursor } } } }"""
    users: list[str] = []
    tags: list[str] = []
    cursors: dict[str, str | None] = {"u": None, "h": None}
    for _ in range(3):
        found = (await client.query(query, cursors))["search"]
        users += [e["node"]["username"] for e in found["users"]["edges"]]
        tags += [e["node"]["name"] for e in found["hashtags"]["edges"]]
        cursors = {
            "u": found["users"]["pageInfo"]["endCursor"] or cursors["u"],
            "h": found["hashtags"]["pageInfo"]["endCursor"] or cursors["h"],
        }
    assert sorted(users) == [f"pag{n}" for n in range(7)]
    assert len(users) == 7
    assert tags == ["pag3", "pag2", "pag1", "pag0"]  # the most used first
    too_big = await client.raw(
        '{ search(query: "pag", first: 500) { users { edges { cursor } } } }'
    )
    assert too_big["errors"][0]["message"].startswith("'first' must be between 0 and 50")
