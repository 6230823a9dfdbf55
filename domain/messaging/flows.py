"""Messaging flows: a message is committed, then pushed to every member's devices."""

from __future__ import annotations

from domain.cache import to_json
from domain.messaging import service
from domain.messaging.service import MessageView
from domain.moderation import spam
from domain.ports import Ports
from domain.posts.store import PostStore


async def send_message(
    *,
    sender_id: int,
    thread_id: int | None,
    recipient_ids: list[int] | None,
    text: str,
    media_id: int | None,
    post_id: int | None,
    client_id: str | None,
    ports: Ports,
    posts: PostStore,
    story_id: int | None = None,
) -> MessageView:
    """Send (or, for a retried clientId, return the first send of) a message; one the spam
    signals hold is kept for review and pushed to nobody."""
    sent = await service.send_message(
        sender_id=sender_id,
        thread_id=thread_id,
        recipient_ids=recipient_ids,
        text=text,
        media_id=media_id,
        post_id=post_id,
        client_id=client_id,
        story_id=story_id,
    )
    held = sent.created and await spam.screen_message(
        sender_id=sender_id, message_id=sent.message_id, text=text, posts=posts
    )
    message = (await service.messages_by_ids([sent.message_id]))[sent.message_id]
    if sent.created and not held:  # committed above: now tell every member's devices
        await ports.events.message_sent(
            member_ids=sent.member_ids, thread_id=sent.thread_id, message=to_json(message)
        )
    return message


async def set_typing(*, thread_id: int, user_id: int, ports: Ports) -> None:
    """Ephemeral: published to the thread's members, never stored. The caller has checked
    that `user_id` is a member."""
    await ports.events.typing(thread_id=thread_id, user_id=user_id)
