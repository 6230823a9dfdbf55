"""The demo world is made through the same flows as the API, so it behaves like one."""

from __future__ import annotations

from config.runtime import Runtime
from config.seed import DEMO_USERNAME, seed_demo
from config.settings import Settings
from domain.feed import service as feed
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
    # and the demo account was told of the posts that mention it, and of its followers
    demo = await User.get(username=DEMO_USERNAME)
    mentions = await Notification.filter(user_id=demo.id, kind="MENTION").count()
    mentioning = await Post.filter(caption__contains=f"@{DEMO_USERNAME}").count()
    assert mentioning > 0
    assert mentions == mentioning
    assert await Notification.filter(user_id=demo.id, kind="FOLLOW").exists()
