"""Post flows: each commits first (through `service`), then updates feeds and counters,
enqueues jobs and asks for notifications through the ports it is given. The API, the seed,
the benchmarks and the tests all create and change posts through these."""

from __future__ import annotations

from domain.moderation import spam
from domain.notifications.service import Event
from domain.ports import Jobs, Ports
from domain.posts import service
from domain.posts.service import Stores
from domain.posts.store import PostView


async def create_post(
    *,
    author_id: int,
    media_ids: list[int],
    caption: str,
    stores: Stores,
    ports: Ports,
    reel: bool = False,
) -> int:
    """A new post, committed with its fan-out's outbox row; then in its author's own feed at
    once, in followers' by a job (`domain.feed.flows.fan_out`, which a sweep runs again if it
    never finishes), and its mentions told. The author sees it on top at once in RANKED too:
    their snapshot is dropped, so the next read is newest first and asks for a new ranking.
    Returns its id."""
    post = await service.create_post(
        author_id=author_id, media_ids=media_ids, caption=caption, stores=stores, reel=reel
    )
    await stores.feeds.insert([author_id], post.id, author_id)
    await stores.feeds.drop_ranking(author_id)
    await ports.jobs.fanout_post(post_id=post.id, attempt=0)
    held = await spam.screen_post(
        author_id=author_id,
        post_id=post.id,
        caption=caption,
        mention_ids=post.mention_ids,
        posts=stores.posts,
    )
    if not held:  # a held post reaches feeds (where only its author sees it), nobody's inbox
        await tell_mentions(
            ports.jobs, post_id=post.id, author_id=author_id, user_ids=post.mention_ids
        )
    return post.id


async def tell_mentions(jobs: Jobs, *, post_id: int, author_id: int, user_ids: list[int]) -> None:
    """Notify the users a post mentions (the same events however often it is called)."""
    for user_id in user_ids:
        await _tell(
            jobs,
            Event(
                "MENTION", author_id, user_id, key=f"mention:{post_id}:{user_id}", post_id=post_id
            ),
        )


async def delete_post(*, post_id: int, viewer_id: int, stores: Stores, ports: Ports) -> None:
    """Deleted with everything hanging off it; its files by a job. Feeds drop it at read time
    already; the author's pull list must not offer it again."""
    media_ids = await service.delete_post(post_id=post_id, viewer_id=viewer_id, stores=stores)
    await stores.feeds.forget_author_post(viewer_id, post_id)
    await ports.jobs.delete_media(media_ids=media_ids)


async def set_like(
    *, user_id: int, post: PostView, liked: bool, stores: Stores, ports: Ports
) -> None:
    """Like (or take back a like of) a post the caller may see; a new like tells the author."""
    changed = await service.set_like(
        user_id=user_id, post_id=post.id, liked=liked, redis=stores.redis
    )
    if changed and liked:
        await _tell(
            ports.jobs,
            Event(
                "LIKE", user_id, post.author_id, key=f"like:{post.id}:{user_id}", post_id=post.id
            ),
        )


async def add_comment(
    *,
    author_id: int,
    post: PostView,
    text: str,
    reply_to_id: int | None,
    stores: Stores,
    ports: Ports,
) -> int:
    """A comment (or a reply) on a post the caller may see, committed, then its post's author
    told. Returns its id."""
    comment_id = await service.add_comment(
        author_id=author_id, post_id=post.id, text=text, reply_to_id=reply_to_id, stores=stores
    )
    if await spam.screen_comment(
        author_id=author_id, comment_id=comment_id, text=text, posts=stores.posts
    ):
        return comment_id  # held for review: nobody is told
    await _tell(
        ports.jobs,
        Event(
            "COMMENT",
            author_id,
            post.author_id,
            key=f"comment:{comment_id}",
            post_id=post.id,
            comment_id=comment_id,
        ),
    )
    return comment_id


async def _tell(jobs: Jobs, event: Event) -> None:
    """A notification job, unless the actor would be told about their own action."""
    if event.actor_id != event.recipient_id:
        await jobs.notify(event)
