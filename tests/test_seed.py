"""The demo world is made through the same flows as the API, so it behaves like one."""

from __future__ import annotations

from tortoise import connections

from config.runtime import Runtime
from config.seed import DEMO_USERNAME, seed_demo
from config.settings import Settings
from domain.feed import service as feed
from domain.graph.visibility import visible_authors_sql
from domain.notifications.models import Notification
from domain.posts.models import Post
from domain.users.models import User
from tests.jobs import drain
from workers.queues import DEFAULT_QUEUE, FANOUT_QUEUE


async def test_seeded_posts_are_in_feeds_and_tell_their_mentions(
    runtime: Runtime, settings: Settings
) -> None:
    # given: the demo world, and the workers done with what it enqueued
    assert await seed_demo(runtime=runtime)
    assert not await seed_demo(runtime=runtime)  # once only
    await drain(FANOUT_QUEUE, settings=settings, runtime=runtime)
    await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)

    # then: every post is in its author's own feed at once
    for author_id in {p.author_id for p in await Post.all()}:
        page = await feed.read_page(
            viewer_id=author_id, first=10, after=None, stores=runtime.feed_stores
        )
        own = await Post.filter(author_id=author_id).values_list("id", flat=True)
        assert set(own) <= {p.id for p in page.posts}
    # and the demo account was told of the posts that mention it (those it may see), and of
    # its followers
    demo = await User.get(username=DEMO_USERNAME)
    mentions = await Notification.filter(user_id=demo.id, kind="MENTION").count()
    rows = await connections.get("default").execute_query_dict(
        "SELECT count(*) AS n FROM posts p JOIN users a ON a.id = p.author_id"
        f" WHERE p.caption LIKE $1 AND {visible_authors_sql('p.author_id', 'a.is_private', '$2')}",
        [f"%@{DEMO_USERNAME}%", demo.id],
    )
    mentioning = rows[0]["n"]
    assert mentioning > 0
    assert mentions == mentioning
    assert await Notification.filter(user_id=demo.id, kind="FOLLOW").exists()
