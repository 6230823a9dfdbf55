"""Turning what a request did into notification jobs (made by a worker, not here)."""

from __future__ import annotations

from domain.notifications.service import Event
from domain.posts.store import CommentView, PostView
from resolvers.context import Context
from workers.queues import enqueue_notification


async def _send(ctx: Context, event: Event) -> None:
    if event.actor_id != event.recipient_id:
        await enqueue_notification(ctx.runtime.jobs, event)


async def liked(ctx: Context, *, actor_id: int, post: PostView) -> None:
    await _send(
        ctx,
        Event("LIKE", actor_id, post.author_id, key=f"like:{post.id}:{actor_id}", post_id=post.id),
    )


async def commented(ctx: Context, *, comment: CommentView, post: PostView) -> None:
    await _send(
        ctx,
        Event(
            "COMMENT",
            comment.author_id,
            post.author_id,
            key=f"comment:{comment.id}",
            post_id=post.id,
            comment_id=comment.id,
        ),
    )


async def followed(ctx: Context, *, follower_id: int, followee_id: int, pending: bool) -> None:
    kind = "FOLLOW_REQUEST" if pending else "FOLLOW"
    await _send(
        ctx,
        Event(kind, follower_id, followee_id, key=f"{kind.lower()}:{follower_id}:{followee_id}"),
    )


async def mentioned(ctx: Context, *, post: PostView) -> None:
    for user_id in post.mention_ids:
        await _send(
            ctx,
            Event(
                "MENTION",
                post.author_id,
                user_id,
                key=f"mention:{post.id}:{user_id}",
                post_id=post.id,
            ),
        )
