"""Spam signals and the classifier: new accounts' links, mass mentions, mass messages and
repeated comments are held for review, with their reasons; a model learned from moderators'
decisions adds a score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.runtime import Runtime
from config.settings import Settings
from domain.moderation import classifier
from domain.moderation.models import ModerationCase, Resolution, TargetKind
from domain.notifications.models import Notification
from domain.posts import flows as post_flows
from domain.users.models import User
from tests.client import GraphQLClient
from tests.factories import create_post, follow, gid, make_media, make_user, token_for
from tests.jobs import drain
from workers.queues import DEFAULT_QUEUE


async def _seen(client: GraphQLClient, post_id: str, token: str | None) -> bool:
    data = await client.query(
        "query($id: ID!) { post(id: $id) { id } }", {"id": post_id}, token=token
    )
    return data["post"] is not None


async def test_a_new_accounts_link_is_held_an_old_ones_is_not(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    new, old, bo = await make_user("new"), await make_user("old"), await make_user("bo")
    await User.filter(id=old.id).update(created_at=datetime.now(UTC) - timedelta(days=8))
    bo_t = token_for(bo, settings)
    held = await create_post(
        client,
        token_for(new, settings),
        [await make_media(new)],
        "cheap followers at http://spam.example/buy @bo",
    )
    kept = await create_post(
        client, token_for(old, settings), [await make_media(old)], "my blog: https://old.example"
    )
    held_id, kept_id = held["post"]["id"], kept["post"]["id"]
    assert not await _seen(client, held_id, bo_t)
    assert await _seen(client, held_id, token_for(new, settings))  # its author sees it
    assert await _seen(client, kept_id, bo_t)
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)
    assert await Notification.filter(user_id=bo.id, kind="MENTION").count() == 0
    case = await ModerationCase.get(target_kind=TargetKind.POST)
    assert case.held_for_spam
    assert case.hidden
    assert case.reasons == ["a new account posting a link"]
    assert case.author_id == new.id


async def test_mass_mentions_and_repeated_comments_are_held(
    client: GraphQLClient, settings: Settings
) -> None:
    new = await make_user("new")
    others = [await make_user(f"u{i}") for i in range(5)]
    token = token_for(new, settings)
    mentions = " ".join(f"@u{i}" for i in range(5))
    await create_post(client, token, [await make_media(new)], f"look {mentions}")
    owner = await make_user("owner")
    posts = [
        (await create_post(client, token_for(owner, settings), [await make_media(owner)]))["post"][
            "id"
        ]
        for _ in range(3)
    ]
    for post in posts:
        await client.mutate(
            "addComment",
            "comment { id }",
            {"postId": post, "text": "Follow me back!"},
            token=token,
        )
    cases = await ModerationCase.all().order_by("id").values_list("target_kind", "reasons")
    assert cases == [
        (TargetKind.POST, ["a new account mentioning many people who do not follow it"]),
        (TargetKind.COMMENT, ["a new account repeating the same comment across posts"]),
    ]
    seen = await client.query(
        "query($id: ID!) { post(id: $id) { comments { edges { node { text } } } } }",
        {"id": posts[2]},
        token=token_for(owner, settings),
    )
    assert seen["post"]["comments"]["edges"] == []
    assert others


async def test_messaging_many_strangers_is_held_and_pushed_to_nobody(
    client: GraphQLClient, settings: Settings, runtime: Runtime
) -> None:
    new = await make_user("new")
    token = token_for(new, settings)
    strangers = [await make_user(f"s{i}") for i in range(10)]
    friend = await make_user("friend")
    await follow(friend, new, runtime.users)
    for stranger in strangers:
        sent = await client.mutate(
            "sendMessage",
            "message { id }",
            {"recipientIds": [gid(stranger)], "text": "hey"},
            token=token,
        )
        assert sent["errors"] == []
    last = await client.query(
        "{ messageRequests { edges { node { lastMessage { text } } } } }",
        token=token_for(strangers[-1], settings),
    )
    assert last["messageRequests"]["edges"] == [{"node": {"lastMessage": None}}]
    first = await client.query(
        "{ messageRequests { edges { node { lastMessage { text } } } } }",
        token=token_for(strangers[0], settings),
    )
    assert first["messageRequests"]["edges"] == [{"node": {"lastMessage": {"text": "hey"}}}]
    [case] = await ModerationCase.all()
    assert case.target_kind is TargetKind.MESSAGE
    assert case.reasons == ["a new account messaging many people who do not follow it"]


SPAM = [
    "buy cheap followers now",
    "cheap followers click my profile",
    "free followers and likes buy now",
    "earn money fast click the link",
    "crypto giveaway buy now free",
    "buy followers cheap cheap cheap",
]
FINE = [
    "what a lovely sunset",
    "congrats on the new job",
    "this photo of the beach is great",
    "see you at dinner tonight",
    "your dog is adorable",
    "happy birthday my friend",
]


async def test_the_classifier_learns_from_decisions_and_scores_new_content(
    runtime: Runtime,
) -> None:
    classifier.SCORER.forget()
    assert (await classifier.train()).model_id is None  # no decisions yet: no model
    author = await make_user("author")
    for i, (text, resolution) in enumerate(
        [(t, Resolution.REMOVE) for t in SPAM] + [(t, Resolution.DISMISS) for t in FINE]
    ):
        await ModerationCase.create(
            target_kind=TargetKind.COMMENT,
            target_id=i + 1,
            author_id=author.id,
            excerpt=text,
            open=False,
            resolution=resolution,
        )
    # interleaved by time, so that the held-out newest fifth has both kinds
    for i, case in enumerate(await ModerationCase.all().order_by("id")):
        await ModerationCase.filter(id=case.id).update(activity_id=(i % 6) * 100 + i)
    trained = await classifier.train()
    assert trained.model_id is not None
    assert trained.samples == 12
    classifier.SCORER.forget()
    spammy = await classifier.SCORER.score("buy cheap followers now, click")
    fine = await classifier.SCORER.score("a lovely photo of the beach")
    assert spammy is not None
    assert fine is not None
    assert spammy > 0.5 > fine
    # a new account's link is held with the model's score on its case (in this process: the
    # live server looks for a new model once a minute)
    new = await make_user("new")
    await post_flows.create_post(
        author_id=new.id,
        media_ids=[(await make_media(new)).id],
        caption="buy cheap followers www.spam.example",
        stores=runtime.post_stores,
        ports=runtime.ports,
    )
    case = await ModerationCase.get(target_kind=TargetKind.POST)
    assert case.spam_score is not None
    assert case.spam_score > 0.5
