"""Story flows: each commits first, then reaches Redis (the live sets the tray is assembled
from), jobs (mentions) and messages."""

from __future__ import annotations

from datetime import datetime

from domain.messaging import flows as messaging_flows
from domain.messaging.service import MessageView
from domain.notifications.service import Event
from domain.ports import Ports
from domain.posts.store import PostStore
from domain.stories import service
from domain.stories.models import Audience
from domain.stories.store import StoryStore, StoryView


async def create_story(
    *,
    author_id: int,
    media_id: int,
    audience: Audience,
    caption: str,
    stories: StoryStore,
    ports: Ports,
    at: datetime | None = None,
) -> StoryView:
    """A story, committed; then live in its author's set (every follower's tray reads it from
    there: no per-follower write), and its mentions told."""
    story = await service.create_story(
        author_id=author_id,
        media_id=media_id,
        audience=audience,
        caption=caption,
        stories=stories,
        at=at,
    )
    await stories.add_live(story)
    for user_id in story.mention_ids:
        await ports.jobs.notify(
            Event(
                "MENTION",
                author_id,
                user_id,
                key=f"story-mention:{story.id}:{user_id}",
                story_id=story.id,
            )
        )
    return story


async def reply_to_story(
    *,
    sender_id: int,
    story: StoryView,
    text: str,
    client_id: str | None,
    ports: Ports,
    posts: PostStore,
    stories: StoryStore,
) -> MessageView:
    """A reply (or a reaction) to a story the sender may see: a direct message to its author
    that carries the story (the thread shows "story unavailable" once it has expired)."""
    message = await messaging_flows.send_message(
        sender_id=sender_id,
        thread_id=None,
        recipient_ids=[story.author_id],
        text=text,
        media_id=None,
        post_id=None,
        client_id=client_id,
        ports=ports,
        posts=posts,
        story_id=story.id,
    )
    await stories.bump_affinity(sender_id, story.author_id, 2.0)
    return message
