"""The authorization matrix, on the live server: every query field, node type, object field,
mutation and subscription of the schema has a rule here, and each rule is run as anonymous,
stranger, follower, pending follower, blocked (both ways), owner and moderator, over a public
and a private account. A field, mutation or subscription added to the schema without a rule
fails `test_every_part_of_the_schema_has_a_rule`, so nothing new goes unchecked.

(Close friends and stories have no rules yet because they do not exist yet.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from graphql import GraphQLObjectType, GraphQLSchema
from tortoise import connections

from config.runtime import Runtime
from config.settings import Settings
from domain.graph import service as graph
from domain.messaging import service as messaging
from domain.moderation.service import set_moderator
from domain.notifications import service as notifications
from domain.posts import flows as post_flows
from domain.stories import flows as story_flows
from domain.stories import service as story_service
from domain.stories.models import Audience
from resolvers.global_ids import to_global_id
from schema.root import build_schema
from tests.client import GraphQLClient
from tests.factories import make_media, make_user, token_for
from tests.ws import connect, receive

ROLES = ("anonymous", "stranger", "follower", "pending", "blocked", "blocker", "owner", "moderator")
OWNERS = ("public", "private")

# Fields whose visibility is their parent's: seen whenever the object holding them is. The
# rules that differ are checked by name below.
WITH_PARENT = "with parent"
GRAPH = "the account's graph: its followers and itself"
SELF = "the account itself only"

FIELD_RULES: dict[str, str] = {
    **{
        f"User.{name}": WITH_PARENT
        for name in [
            "id",
            "username",
            "fullName",
            "bio",
            "isPrivate",
            "followerCount",
            "followingCount",
            "postCount",
            "createdAt",
            "avatar",
            "isViewer",
            "viewerFollows",
            "viewerFollowState",
            "followsViewer",
        ]
    },
    "User.posts": GRAPH,
    "User.reels": GRAPH,
    "User.followers": GRAPH,
    "User.following": GRAPH,
    "User.savedPosts": SELF,
    "User.followRequests": SELF,
    "Post.viewCount": WITH_PARENT,
    "Post.playCount": WITH_PARENT,
    "User.closeFriends": SELF,
    "User.storyArchive": SELF,
    "User.highlights": GRAPH,
    "User.isCloseFriend": WITH_PARENT,  # the viewer's own list: false but for the viewer
    "Message.isStoryReply": WITH_PARENT,
    "Message.story": WITH_PARENT,  # the story rule again (tests/test_stories.py)
    "Notification.story": WITH_PARENT,
    **{
        f"Story.{n}": WITH_PARENT
        for n in [
            "id",
            "audience",
            "caption",
            "createdAt",
            "expiresAt",
            "author",
            "media",
            "viewerHasSeen",
        ]
    },
    "Story.viewCount": SELF,  # its author's (tests/test_stories.py)
    "Story.viewers": SELF,
    **{f"Highlight.{n}": WITH_PARENT for n in ["id", "title", "createdAt", "cover", "stories"]},
    **{f"StoryReel.{n}": WITH_PARENT for n in ["hasUnseen", "latestAt", "user", "stories"]},
    **{
        f"Post.{name}": WITH_PARENT
        for name in [
            "id",
            "kind",
            "caption",
            "hashtags",
            "likeCount",
            "commentCount",
            "saveCount",
            "createdAt",
            "editedAt",
            "author",
            "media",
            "mentions",
            "viewerHasLiked",
            "viewerHasSaved",
            "comments",
        ]
    },
    **{
        f"Comment.{name}": WITH_PARENT
        for name in [
            "id",
            "text",
            "likeCount",
            "replyCount",
            "createdAt",
            "author",
            "post",
            "replyTo",
            "viewerHasLiked",
            "replies",
        ]
    },
    **{
        f"Media.{name}": WITH_PARENT
        for name in [
            "id",
            "kind",
            "status",
            "failureReason",
            "width",
            "height",
            "blurhash",
            "durationMs",
            "createdAt",
            "variants",
            "url",
            "posterUrl",
            "playlistUrl",
        ]
    },
    **{
        f"Thread.{name}": WITH_PARENT
        for name in [
            "id",
            "kind",
            "unreadCount",
            "isRequest",
            "createdAt",
            "updatedAt",
            "participants",
            "lastMessage",
            "messages",
        ]
    },
    **{
        f"Message.{name}": WITH_PARENT
        for name in ["id", "text", "clientId", "createdAt", "sender", "thread", "media", "post"]
    },
    **{
        f"Notification.{name}": WITH_PARENT
        for name in ["id", "kind", "actorCount", "read", "createdAt", "actors", "post", "comment"]
    },
    **{f"Hashtag.{name}": WITH_PARENT for name in ["id", "name", "postCount", "posts"]},
    **{
        f"ReportedTarget.{name}": WITH_PARENT
        for name in [
            "id",
            "kind",
            "targetId",
            "excerpt",
            "reportCount",
            "hidden",
            "heldForSpam",
            "spamScore",
            "reasons",
            "resolution",
            "createdAt",
            "author",
            "reports",
        ]
    },
    **{
        f"ContentReport.{name}": WITH_PARENT for name in ["reason", "note", "createdAt", "reporter"]
    },
    **{f"MediaVariant.{n}": WITH_PARENT for n in ["width", "height", "contentType", "url"]},
    **{f"SearchResults.{n}": WITH_PARENT for n in ["users", "hashtags"]},
    **{f"TypingEvent.{n}": WITH_PARENT for n in ["threadId", "user"]},
    **{f"HttpHeader.{n}": WITH_PARENT for n in ["name", "value"]},
}
# Structural types: payloads, connections, errors. Their fields are their parent's.
STRUCTURAL_SUFFIXES = ("Payload", "Connection", "Edge")
STRUCTURAL = {"PageInfo", "UserError", "Query", "Mutation", "Subscription"}

QUERY_RULES = {
    "viewer": "the signed-in user, null when signed out",
    "node": "per node type: NODE_VISIBLE",
    "post": "as node(Post)",
    "user": "null across a block",
    "hashtag": "public; its posts filtered",
    "search": "nobody across a block",
    "feed": "the viewer's own",
    "threads": "the viewer's own",
    "messageRequests": "the viewer's own",
    "thread": "members only",
    "notifications": "the viewer's own",
    "moderationQueue": "moderators only",
    "storyTray": "the viewer's own",
    "reels": "posts the viewer may see (tests/test_reels.py): checked below",
    "explore": "public posts from outside the viewer's graph (tests/test_explore.py): below",
}
SUBSCRIPTION_RULES = {
    "mediaProcessed": "its owner only",
    "messageReceived": "members only",
    "typing": "members only",
    "notificationReceived": "the viewer's own",
}


def _sees_posts(role: str, owner: str) -> bool:
    if role in ("blocked", "blocker"):
        return False
    return owner == "public" or role in ("owner", "follower")


def _sees_account(role: str) -> bool:
    return role not in ("blocked", "blocker")


# Who sees each node type by its id: (role, owner of the object) -> bool.
NODE_VISIBLE = {
    "User": lambda role, owner: _sees_account(role),
    "Post": _sees_posts,
    "Comment": _sees_posts,
    "Media": lambda role, owner: role == "owner",
    "Thread": lambda role, owner: role in ("owner", "follower"),
    "Message": lambda role, owner: role in ("owner", "follower"),
    "Notification": lambda role, owner: role == "owner",
    "Hashtag": lambda role, owner: True,
    "Story": _sees_posts,  # an EVERYONE story, live
    "Highlight": _sees_posts,
}


def _schema() -> GraphQLSchema:
    return build_schema(Settings(environment="test"))._schema


def test_every_part_of_the_schema_has_a_rule() -> None:
    schema = _schema()
    missing = []
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        if type_.name in STRUCTURAL or type_.name.endswith(STRUCTURAL_SUFFIXES):
            continue
        missing += [
            f"{type_.name}.{name}"
            for name in type_.fields
            if f"{type_.name}.{name}" not in FIELD_RULES
        ]
    assert schema.query_type
    assert schema.mutation_type
    assert schema.subscription_type
    missing += [f"Query.{n}" for n in schema.query_type.fields if n not in QUERY_RULES]
    missing += [f"Mutation.{n}" for n in schema.mutation_type.fields if n not in MUTATIONS]
    missing += [
        f"Subscription.{n}" for n in schema.subscription_type.fields if n not in SUBSCRIPTION_RULES
    ]
    node_types = {t.name for t in schema.get_possible_types(schema.get_type("Node"))}  # type: ignore[arg-type]
    missing += [f"Node {t}" for t in node_types if t not in NODE_VISIBLE]
    assert missing == [], f"give these an authorization rule in {__name__}: {missing}"


@dataclass
class World:
    tokens: dict[str, str | None]
    ids: dict[str, dict[str, str]] = field(default_factory=dict)  # owner -> kind -> global id
    raw: dict[str, dict[str, int]] = field(default_factory=dict)


async def _world(runtime: Runtime, settings: Settings) -> World:
    users = {
        name: await make_user(name, private=(name == "private"))
        for name in (
            "public",
            "private",
            "follower",
            "pending",
            "stranger",
            "blocked",
            "blocker",
            "mod",
        )
    }
    u = {name: user.id for name, user in users.items()}
    store = runtime.users
    for owner in OWNERS:
        await graph.follow(follower_id=u["follower"], followee_id=u[owner], users=store)
        await graph.follow(follower_id=u["pending"], followee_id=u[owner], users=store)
    await graph.approve_request(owner_id=u["private"], requester_id=u["follower"], users=store)
    await set_moderator(username="mod", moderator=True)
    world = World(
        tokens={
            "anonymous": None,
            **{
                role: token_for(users[role], settings)
                for role in ("stranger", "follower", "pending", "blocked", "blocker")
            },
            "moderator": token_for(users["mod"], settings),
        }
    )
    for owner in OWNERS:
        media = await make_media(users[owner])
        post_id = await post_flows.create_post(
            author_id=u[owner],
            media_ids=[media.id],
            caption=f"#matrix by {owner}",
            stores=runtime.post_stores,
            ports=runtime.ports,
        )
        [loose] = [await make_media(users[owner])]
        post = await runtime.posts.get_posts([post_id])
        comment_id = await post_flows.add_comment(
            author_id=u[owner],
            post=post[post_id],
            text="own comment",
            reply_to_id=None,
            stores=runtime.post_stores,
            ports=runtime.ports,
        )
        sent = await messaging.send_message(
            sender_id=u[owner],
            thread_id=None,
            recipient_ids=[u["follower"]],
            text="hi",
            media_id=None,
            post_id=None,
            client_id=None,
        )
        note = await notifications.record(
            notifications.Event("FOLLOW", u["follower"], u[owner], key=f"f:{owner}"),
            events=runtime.ports.events,
        )
        assert note is not None
        video = await make_media(users[owner], kind="VIDEO", duration_ms=5_000)
        await post_flows.create_post(  # a reel, for `reels`
            author_id=u[owner],
            media_ids=[video.id],
            caption="reel",
            stores=runtime.post_stores,
            ports=runtime.ports,
            reel=True,
        )
        story = await story_flows.create_story(
            author_id=u[owner],
            media_id=media.id,
            audience=Audience.EVERYONE,
            caption="s",
            stories=runtime.stories,
            ports=runtime.ports,
        )
        highlight = await story_service.create_highlight(
            owner_id=u[owner], title="h", story_ids=[story.id], cover_media_id=None
        )
        world.raw[owner] = {
            "User": u[owner],
            "Post": post_id,
            "Comment": comment_id,
            "Media": loose.id,
            "Thread": sent.thread_id,
            "Message": sent.message_id,
            "Notification": note,
            "Requester": u["pending"],
            "Story": story.id,
            "Highlight": highlight,
        }
        world.ids[owner] = {
            k: to_global_id("User" if k == "Requester" else k, v)
            for k, v in world.raw[owner].items()
        }
    tag = await connections.get("default").execute_query_dict(
        "SELECT id FROM hashtags WHERE name = 'matrix'"
    )
    for owner in OWNERS:
        world.ids[owner]["Hashtag"] = to_global_id("Hashtag", tag[0]["id"])
    for owner in OWNERS:  # blocks last: they end follows
        await graph.block(blocker_id=u[owner], blocked_id=u["blocked"], users=store)
        await graph.block(blocker_id=u["blocker"], blocked_id=u[owner], users=store)
    world.tokens["owner"] = None  # per owner, below
    world.ids["owner_tokens"] = {o: token_for(users[o], settings) for o in OWNERS}
    return world


def _token(world: World, role: str, owner: str) -> str | None:
    return world.ids["owner_tokens"][owner] if role == "owner" else world.tokens[role]


async def test_nodes_by_id_follow_their_rules(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    world = await _world(runtime, settings)
    leaks = []
    for owner in OWNERS:
        for role in ROLES:
            token = _token(world, role, owner)
            for kind, visible in NODE_VISIBLE.items():
                body = await client.raw(
                    "query($id: ID!) { node(id: $id) { id } }",
                    {"id": world.ids[owner][kind]},
                    token=token,
                )
                seen = (body.get("data") or {}).get("node") is not None
                if seen != visible(role, owner):
                    leaks.append(f"{role} sees {owner}'s {kind}: {seen}, rule says {not seen}")
    assert leaks == []


async def test_query_fields_and_graph_fields_follow_their_rules(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    world = await _world(runtime, settings)
    leaks = []
    for owner in OWNERS:
        name = owner
        for role in ROLES:
            token = _token(world, role, owner)
            body = await client.raw(
                """query($name: String!, $post: ID!, $thread: ID!) {
                  user(username: $name) { posts { edges { node { id } } totalCount }
                    highlights { id }
                    reels { edges { node { id } } } followers { edges { node { id } } }
                    following { edges { node { id } } } }
                  post(id: $post) { id }
                  thread(id: $thread) { id }
                  search(query: $name) { users { edges { node { username } } } }
                  hashtag(name: "matrix") { posts { edges { node { caption } } } }
                }""",
                {
                    "name": name,
                    "post": world.ids[owner]["Post"],
                    "thread": world.ids[owner]["Thread"],
                },
                token=token,
            )
            data = body.get("data") or {}
            profile = data.get("user")
            if (profile is not None) != _sees_account(role):
                leaks.append(f"{role}: user({owner}) {profile}")
            if profile is not None:
                if profile["highlights"] and not _sees_posts(role, owner):
                    leaks.append(f"{role}: {owner}.highlights shown")
                for part in ("posts", "reels", "followers", "following"):
                    shown = bool(profile[part]["edges"])
                    expected = _sees_posts(role, owner)
                    if part == "posts" and profile[part]["totalCount"] and not expected:
                        leaks.append(f"{role}: {owner}.posts totalCount")
                    if shown and not expected:
                        leaks.append(f"{role}: {owner}.{part} shown")
            if (data.get("post") is not None) != _sees_posts(role, owner):
                leaks.append(f"{role}: post of {owner}")
            if (data.get("thread") is not None) != (role in ("owner", "follower")):
                leaks.append(f"{role}: thread of {owner}")
            found = [
                e["node"]["username"]
                for e in ((data.get("search") or {}).get("users") or {}).get("edges", [])
            ]
            if (owner in found) and not _sees_account(role):
                leaks.append(f"{role}: finds {owner}")
            captions = [
                e["node"]["caption"]
                for e in ((data.get("hashtag") or {}).get("posts") or {}).get("edges", [])
            ]
            if (f"#matrix by {owner}" in captions) != _sees_posts(role, owner):
                leaks.append(f"{role}: hashtag posts of {owner}: {captions}")
            # the account's own lists, for itself only
            mine = await client.raw(
                "query($name: String!) { user(username: $name) { followRequests"
                " { edges { node { id } } } savedPosts { edges { node { id } } } } }",
                {"name": name},
                token=token,
            )
            granted = (mine.get("data") or {}).get("user") or {}
            for part in ("followRequests", "savedPosts"):
                if granted.get(part) and granted[part]["edges"] and role != "owner":
                    leaks.append(f"{role}: {owner}.{part}")
        # private lists of the signed-in: each their own
    for role in ROLES:
        for owner in OWNERS:
            token = _token(world, role, owner)
            tray = await client.raw("{ storyTray { user { username } } }", token=token)
            body = await client.raw(
                "{ viewer { username } threads { edges { node { id } } }"
                " notifications { edges { node { id } } }"
                " moderationQueue { edges { node { id } } } }",
                token=token,
            )
            data = body.get("data") or {}
            errors = {e["path"][0]: e["extensions"]["code"] for e in body.get("errors", [])}
            if role == "anonymous":
                if data and data.get("viewer") is not None:
                    leaks.append("anonymous has a viewer")
                continue
            reel_page = await client.raw(
                "{ reels { edges { node { author { username } } } } }", token=token
            )
            reel_authors = {
                e["node"]["author"]["username"]
                for e in ((reel_page.get("data") or {}).get("reels") or {}).get("edges", [])
            }
            for other in OWNERS:
                if other in reel_authors and not _sees_posts(role, other):
                    leaks.append(f"{role} gets {other}'s reels")
            explore_page = await client.raw(
                "{ explore { edges { node { author { username } } } } }", token=token
            )
            explored = {
                e["node"]["author"]["username"]
                for e in ((explore_page.get("data") or {}).get("explore") or {}).get("edges", [])
            }
            if "private" in explored:
                leaks.append(f"{role} explores private posts")
            if owner in explored and role in ("owner", "follower", "blocked", "blocker"):
                leaks.append(f"{role} explores {owner}'s posts, inside the graph or a block")
            if role == "stranger" and owner == "public" and owner not in explored:
                leaks.append("a stranger's explore misses the public account (the rule is moot)")
            reels = (tray.get("data") or {}).get("storyTray") or []
            in_tray = {r["user"]["username"] for r in reels if r["user"]}
            for other in OWNERS:
                follows = role == "follower" or (role == "pending" and other == "public")
                expected = _sees_posts(role, other) and (follows or role == "owner")
                if role == "owner" and other != owner:
                    continue  # the other owner's tray, as that owner: not this case
                if (other in in_tray) != expected:
                    leaks.append(f"{role}'s tray and {other}'s stories: {in_tray}")
            threads = [e["node"]["id"] for e in (data.get("threads") or {}).get("edges", [])]
            others = {world.ids[o]["Thread"] for o in OWNERS}
            if role not in ("owner", "follower") and set(threads) & others:
                leaks.append(f"{role} lists others' threads")
            notes = {e["node"]["id"] for e in (data.get("notifications") or {}).get("edges", [])}
            if role != "owner" and notes & {world.ids[o]["Notification"] for o in OWNERS}:
                leaks.append(f"{role} lists others' notifications")
            if role == "moderator":
                if "moderationQueue" in errors:
                    leaks.append("the moderator cannot read the queue")
            elif errors.get("moderationQueue") != "FORBIDDEN":
                leaks.append(f"{role} reads the moderation queue")
    assert leaks == []


@dataclass(frozen=True)
class Rule:
    """A mutation's rule: `allowed(role, owner)`; `input(world, owner)` names the target;
    refused roles must get one of `codes` and change nothing."""

    allowed: Any
    input: Any
    codes: frozenset[str] = frozenset({"NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED", "BLOCKED"})
    runs_allowed: bool = False  # safe to run as an allowed role too (idempotent, not a delete)


def _acts_on_posts(role: str, owner: str) -> bool:
    return _signed_in(role, owner) and _sees_posts(role, owner)


def _on(kind: str, key: str) -> Any:
    return lambda world, owner: {key: world.ids[owner][kind]}


def _signed_in(role: str, owner: str) -> bool:
    return role != "anonymous"


def _owner(role: str, owner: str) -> bool:
    return role == "owner"


def _member(role: str, owner: str) -> bool:
    return role in ("owner", "follower")


def _own(input_: dict[str, Any]) -> Rule:
    """The viewer's own account or media: refused when signed out, and acting on nobody else."""
    return Rule(_signed_in, lambda w, o: input_)


# Anyone: the credentials in the input are the check (tests/test_accounts.py).
PUBLIC = Rule(lambda r, o: True, lambda w, o: None)
MUTATIONS: dict[str, Rule] = {
    "register": PUBLIC,
    "login": PUBLIC,
    "refreshToken": PUBLIC,
    "logout": PUBLIC,
    # a file upload is multipart: signed-out refusal in tests/test_media.py
    "uploadMedia": PUBLIC,
    "changePassword": _own({"currentPassword": "x", "newPassword": "a long new passphrase"}),
    "deactivateAccount": _own({"password": "x"}),
    "deleteAccount": _own({"password": "x"}),
    "updateProfile": Rule(_signed_in, lambda w, o: {"bio": "x"}, runs_allowed=True),
    "createUpload": _own({"kind": "IMAGE", "contentType": "image/jpeg", "byteSize": 10}),
    "createPost": Rule(
        _owner,
        lambda w, o: {"mediaIds": [w.ids[o]["Media"]], "caption": "x"},
        codes=frozenset({"NOT_FOUND", "UNAUTHENTICATED", "INVALID_INPUT", "INVALID_ID"}),
    ),
    "createReel": Rule(
        _owner,
        lambda w, o: {"mediaId": w.ids[o]["Media"]},
        codes=frozenset({"NOT_FOUND", "UNAUTHENTICATED", "INVALID_INPUT", "INVALID_ID"}),
    ),
    "markNotificationsRead": Rule(
        _owner, lambda w, o: {"upToId": w.ids[o]["Notification"]}, runs_allowed=True
    ),
    "completeUpload": Rule(_owner, _on("Media", "mediaId")),
    # someone else's post, comment or account: what one may see
    "likePost": Rule(_acts_on_posts, _on("Post", "postId"), runs_allowed=True),
    "unlikePost": Rule(_acts_on_posts, _on("Post", "postId"), runs_allowed=True),
    "savePost": Rule(_acts_on_posts, _on("Post", "postId"), runs_allowed=True),
    "unsavePost": Rule(_acts_on_posts, _on("Post", "postId"), runs_allowed=True),
    "addComment": Rule(_sees_posts, lambda w, o: {"postId": w.ids[o]["Post"], "text": "matrix"}),
    "editPost": Rule(_owner, lambda w, o: {"postId": w.ids[o]["Post"], "caption": "x"}),
    "deletePost": Rule(_owner, _on("Post", "postId")),
    "likeComment": Rule(_acts_on_posts, _on("Comment", "commentId"), runs_allowed=True),
    "unlikeComment": Rule(_acts_on_posts, _on("Comment", "commentId"), runs_allowed=True),
    "deleteComment": Rule(_owner, _on("Comment", "commentId")),
    "reportContent": Rule(
        lambda r, o: _acts_on_posts(r, o) and r != "owner",
        lambda w, o: {"reason": "SPAM", "postId": w.ids[o]["Post"]},
        codes=frozenset({"NOT_FOUND", "UNAUTHENTICATED", "INVALID_INPUT"}),
        runs_allowed=True,
    ),
    "follow": Rule(
        lambda r, o: _sees_account(r) and r != "owner",
        _on("User", "userId"),
        codes=frozenset({"NOT_FOUND", "UNAUTHENTICATED", "BLOCKED", "CANNOT_FOLLOW_SELF"}),
    ),
    "unfollow": Rule(
        lambda r, o: _signed_in(r, o) and r != "blocked",
        _on("User", "userId"),
        runs_allowed=True,
    ),
    "block": Rule(
        lambda r, o: r not in ("anonymous", "owner", "blocked"),
        _on("User", "userId"),
        codes=frozenset({"NOT_FOUND", "UNAUTHENTICATED", "CANNOT_BLOCK_SELF"}),
    ),
    "unblock": Rule(
        lambda r, o: _signed_in(r, o) and r != "blocked",
        _on("User", "userId"),
        runs_allowed=True,
    ),
    # the owner's own follow requests (the target is the one who asked)
    "approveFollowRequest": Rule(
        lambda r, o: r == "owner" and o == "private",
        _on("Requester", "userId"),
    ),
    "rejectFollowRequest": Rule(
        lambda r, o: r == "owner" and o == "private",
        _on("Requester", "userId"),
    ),
    # removing someone who does not follow you changes nothing: only signing in is checked
    "removeFollower": Rule(_signed_in, _on("Requester", "userId")),
    # the view log: what one may not see is dropped (counted as rejected), never stored
    "logViews": Rule(
        _signed_in,
        lambda w, o: {
            "batchId": f"m-{o}",
            "events": [{"postId": w.ids[o]["Post"], "watchedMs": 1}],
        },
        runs_allowed=True,
    ),
    "notInterested": Rule(_acts_on_posts, _on("Post", "postId"), runs_allowed=True),
    # stories
    "createStory": Rule(
        _owner,
        _on("Media", "mediaId"),
        codes=frozenset({"NOT_FOUND", "UNAUTHENTICATED", "INVALID_ID"}),
    ),
    "markStoriesSeen": Rule(
        _acts_on_posts, lambda w, o: {"storyIds": [w.ids[o]["Story"]]}, runs_allowed=True
    ),
    "replyToStory": Rule(
        lambda r, o: _acts_on_posts(r, o) and r != "owner",
        lambda w, o: {"storyId": w.ids[o]["Story"], "text": "hi"},
    ),
    "addCloseFriend": Rule(
        lambda r, o: _signed_in(r, o) and r not in ("owner", "blocked", "blocker"),
        _on("User", "userId"),
        codes=frozenset({"NOT_FOUND", "UNAUTHENTICATED", "INVALID_INPUT"}),
        runs_allowed=True,
    ),
    "removeCloseFriend": Rule(
        lambda r, o: _signed_in(r, o) and r not in ("owner", "blocked"),
        _on("User", "userId"),
        codes=frozenset({"NOT_FOUND", "UNAUTHENTICATED", "INVALID_INPUT"}),
        runs_allowed=True,
    ),
    "createHighlight": Rule(_owner, lambda w, o: {"title": "x", "storyIds": [w.ids[o]["Story"]]}),
    "addToHighlight": Rule(
        _owner,
        lambda w, o: {"highlightId": w.ids[o]["Highlight"], "storyIds": [w.ids[o]["Story"]]},
        runs_allowed=True,
    ),
    "removeFromHighlight": Rule(
        _owner,
        lambda w, o: {"highlightId": w.ids[o]["Highlight"], "storyIds": [w.ids[o]["Story"]]},
    ),
    "deleteHighlight": Rule(_owner, _on("Highlight", "highlightId")),
    # threads: members only
    "sendMessage": Rule(_member, lambda w, o: {"threadId": w.ids[o]["Thread"], "text": "x"}),
    "markThreadRead": Rule(
        _member,
        lambda w, o: {"threadId": w.ids[o]["Thread"], "messageId": w.ids[o]["Message"]},
        runs_allowed=True,
    ),
    "acceptMessageRequest": Rule(_member, _on("Thread", "threadId"), runs_allowed=True),
    "setTyping": Rule(_member, _on("Thread", "threadId"), runs_allowed=True),
    # moderators only
    "resolveReport": Rule(
        lambda r, o: r == "moderator",
        lambda w, o: {"targetId": w.ids[o]["Post"], "action": "DISMISS"},
        codes=frozenset({"FORBIDDEN", "UNAUTHENTICATED"}),
    ),
}


async def _snapshot() -> str:
    """Every row count that a refused mutation must leave alone."""
    tables = (
        "posts",
        "comments",
        "likes",
        "saves",
        "comment_likes",
        "follows",
        "blocks",
        "messages",
        "threads",
        "reports",
        "media",
        "moderation_actions",
    )
    conn = connections.get("default")
    counts = [
        (await conn.execute_query_dict(f"SELECT count(*) AS n FROM {table}"))[0]["n"]
        for table in tables
    ]
    edits = await conn.execute_query_dict("SELECT caption FROM posts ORDER BY id")
    return json.dumps([counts, [e["caption"] for e in edits]])


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_mutations_follow_their_rules(
    name: str, client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    rule = MUTATIONS[name]
    world = await _world(runtime, settings)
    leaks = []
    for owner in OWNERS:
        target = rule.input(world, owner)
        if target is None:  # anyone may: their credentials are the check
            continue
        for role in ROLES:
            allowed = rule.allowed(role, owner)
            if allowed and not rule.runs_allowed:
                continue
            before = await _snapshot()
            input_type = f"{name[0].upper()}{name[1:]}Input"
            body = await client.raw(
                f"mutation($input: {input_type}!) {{ {name}(input: $input)"
                " { errors { code } } }",
                {"input": target},
                token=_token(world, role, owner),
            )
            assert "errors" not in body, body
            codes = {e["code"] for e in body["data"][name]["errors"]}
            if allowed:
                if codes:
                    leaks.append(f"{role} refused {name} on {owner}'s: {codes}")
                continue
            if not codes or not codes <= rule.codes:
                leaks.append(f"{role} ran {name} on {owner}'s: {codes or 'allowed'}")
            if await _snapshot() != before:
                leaks.append(f"{role}'s refused {name} on {owner}'s wrote something")
    assert leaks == []


async def test_subscriptions_follow_their_rules(
    live_server: str, settings: Settings, runtime: Runtime
) -> None:
    world = await _world(runtime, settings)
    cases = {
        "mediaProcessed": (
            "subscription($id: ID!) { mediaProcessed(mediaId: $id) { id } }",
            "Media",
            lambda r, o: r == "owner",
        ),
        "messageReceived": (
            "subscription($id: ID) { messageReceived(threadId: $id) { id } }",
            "Thread",
            _member,
        ),
        "typing": (
            "subscription($id: ID!) { typing(threadId: $id) { threadId } }",
            "Thread",
            _member,
        ),
    }
    assert set(cases) | {"notificationReceived"} == set(SUBSCRIPTION_RULES)
    leaks = []
    for name, (query, kind, allowed) in cases.items():
        for owner in OWNERS:
            for role in ROLES:
                token = _token(world, role, owner)
                if token is None:
                    continue  # refused at connection_init (tests/test_realtime.py)
                ws = await connect(live_server, token)
                try:
                    await ws.send(
                        json.dumps(
                            {
                                "id": "1",
                                "type": "subscribe",
                                "payload": {
                                    "query": query,
                                    "variables": {"id": world.ids[owner][kind]},
                                },
                            }
                        )
                    )
                    refused = False
                    if not allowed(role, owner):
                        try:
                            message = await receive(ws)
                        except TimeoutError:
                            message = {}
                        refused = message.get("type") == "error" or bool(
                            (message.get("payload") or {}).get("errors")
                        )
                    if not allowed(role, owner) and not refused:
                        leaks.append(f"{role} subscribed to {name} of {owner}'s")
                finally:
                    await ws.close()
    assert leaks == []
