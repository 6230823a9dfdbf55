"""Stories, close friends and highlights: the viewer checks and the story rule's facts."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.errors import DomainError, ErrorCode, not_found
from domain.messaging.service import MessageView
from domain.pagination import Page
from domain.stories import flows
from domain.stories import service as stories
from domain.stories.models import Audience
from domain.stories.store import StoryView, now_ms
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import id_input, page_arguments
from resolvers.posts import can_see_posts_of
from resolvers.users import target_user


async def _facts(ctx: Context, author_id: int) -> stories.Facts:
    """The story rule's facts: the post rule (blocks, privacy: `can_see_posts_of`, on the
    request's loaders), then the close friends list."""
    viewer = ctx.viewer_id
    if viewer == author_id:
        return stories.Facts(viewer, True, True)
    sees_posts = await can_see_posts_of(ctx, author_id)
    close = (
        await stories.close_friends_among(viewer_id=viewer, owner_ids=[author_id])
        if viewer is not None and sees_posts
        else set()
    )
    return stories.Facts(viewer, sees_posts, author_id in close)


async def visible_story(ctx: Context, story_id: int) -> StoryView | None:
    """A story the viewer may see now: live (or in a highlight) and by the story rule."""
    story = await ctx.runtime.stories.rows.get(story_id)
    if story is None:
        return None
    highlighted = story.id in await stories.in_a_highlight([story.id])
    if stories.may_see(
        story, await _facts(ctx, story.author_id), at_ms=now_ms(), in_highlight=highlighted
    ):
        return story
    return None


async def create(ctx: Context, *, media_id: str, audience: Audience, caption: str) -> StoryView:
    viewer = ctx.signed_in()
    raw_media = id_input(media_id, "Media", field="mediaId")
    return await flows.create_story(  # its own limit: 100 in any 24 hours
        author_id=viewer,
        media_id=raw_media,
        audience=audience,
        caption=caption,
        stories=ctx.runtime.stories,
        ports=ctx.runtime.ports,
    )


async def tray(ctx: Context) -> list[stories.Reel]:
    viewer = ctx.require_viewer()
    reels = await stories.tray(
        viewer_id=viewer,
        users=ctx.runtime.users,
        stories=ctx.runtime.stories,
        served=ctx.runtime.ranking,
    )
    shown = {s.id: s for r in reels for s in r.stories}
    ctx.loaders.prime(ctx.loaders.story, shown)
    if shown:
        ctx.tray_expires_ms = min(int(s.expires_at.timestamp() * 1000) for s in shown.values())
    return reels


async def mark_seen(ctx: Context, *, story_ids: list[str]) -> int:
    """All or nothing: an id that is not a story the viewer may see now refuses the lot."""
    viewer = ctx.signed_in()
    raw = [id_input(i, "Story", field="storyIds") for i in story_ids]
    if not 1 <= len(raw) <= 100:
        raise DomainError(ErrorCode.INVALID_INPUT, "Give 1 to 100 story ids.", field="storyIds")
    visible = []
    for story_id in dict.fromkeys(raw):
        story = await visible_story(ctx, story_id)
        if story is None:
            raise not_found("story", field="storyIds")
        visible.append(story)
    return await stories.mark_seen(
        viewer_id=viewer, visible=visible, stories=ctx.runtime.stories, at_ms=now_ms()
    )


async def viewers(ctx: Context, story: StoryView, first: int | None, after: str | None) -> Page:
    if ctx.viewer_id != story.author_id:
        raise ClientError("Only its author sees who saw a story.", code=ErrorCode.FORBIDDEN)
    limit, position = page_arguments(first, after)
    return await stories.viewers(story=story, first=limit, after=position, at=datetime.now(UTC))


async def reply(
    ctx: Context, *, story_id: str, text: str | None, emoji: str | None, client_id: str | None
) -> MessageView:
    viewer = ctx.signed_in()
    if (text is None) == (emoji is None):
        raise DomainError(ErrorCode.INVALID_INPUT, "Give either text or an emoji.", field="text")
    if emoji is not None and not 1 <= len(emoji) <= 8:
        raise DomainError(ErrorCode.INVALID_INPUT, "An emoji reaction is one emoji.", field="emoji")
    story = await visible_story(ctx, id_input(story_id, "Story", field="storyId"))
    if story is None or story.author_id == viewer:
        raise not_found("story", field="storyId")
    return await flows.reply_to_story(
        sender_id=viewer,
        story=story,
        text=(text if text is not None else emoji) or "",
        client_id=client_id,
        ports=ctx.runtime.ports,
        posts=ctx.runtime.posts,
        stories=ctx.runtime.stories,
    )


async def set_close_friend(ctx: Context, *, user_id: str, on: bool) -> int:
    viewer = ctx.signed_in()
    friend = await target_user(ctx, user_id)  # one who blocked the viewer is not there
    await stories.set_close_friend(
        owner_id=viewer, friend_id=friend, on=on, stories=ctx.runtime.stories
    )
    return friend


async def close_friends(ctx: Context, owner_id: int, first: int | None, after: str | None) -> Page:
    if ctx.viewer_id != owner_id:
        raise ClientError("Close friends are for their owner only.", code=ErrorCode.FORBIDDEN)
    limit, position = page_arguments(first, after)
    return await stories.close_friends(owner_id=owner_id, first=limit, after=position)


async def archive(ctx: Context, owner_id: int, first: int | None, after: str | None) -> Page:
    if ctx.viewer_id != owner_id:
        raise ClientError("The story archive is for its owner only.", code=ErrorCode.FORBIDDEN)
    limit, position = page_arguments(first, after)
    return await stories.archive(owner_id=owner_id, first=limit, after=position)


async def highlights(ctx: Context, owner_id: int) -> list[stories.HighlightView]:
    if not await can_see_posts_of(ctx, owner_id):
        return []
    return (await stories.highlights_of([owner_id])).get(owner_id, [])


async def highlight_stories(ctx: Context, highlight: stories.HighlightView) -> list[StoryView]:
    """Its stories the viewer may see (the audience rule holds; expiry does not)."""
    facts = await _facts(ctx, highlight.owner_id)
    found = await ctx.loaders.story.load_many(highlight.story_ids)
    return [
        s
        for s in found
        if s is not None and stories.may_see(s, facts, at_ms=now_ms(), in_highlight=True)
    ]


async def create_highlight(
    ctx: Context, *, title: str, story_ids: list[str], cover_media_id: str | None
) -> stories.HighlightView:
    viewer = ctx.signed_in()
    highlight_id = await stories.create_highlight(
        owner_id=viewer,
        title=title,
        story_ids=[id_input(i, "Story", field="storyIds") for i in story_ids],
        cover_media_id=id_input(cover_media_id, "Media", field="coverMediaId")
        if cover_media_id
        else None,
    )
    return await _highlight(highlight_id)


async def _highlight(highlight_id: int) -> stories.HighlightView:
    found = await stories.highlight_by_id(highlight_id)
    assert found is not None
    return found


async def change_highlight(
    ctx: Context, *, highlight_id: str, add: list[str], remove: list[str]
) -> stories.HighlightView:
    viewer = ctx.signed_in()
    raw = id_input(highlight_id, "Highlight", field="highlightId")
    await stories.change_highlight(
        owner_id=viewer,
        highlight_id=raw,
        add=[id_input(i, "Story", field="storyIds") for i in add],
        remove=[id_input(i, "Story", field="storyIds") for i in remove],
    )
    return await _highlight(raw)


async def delete_highlight(ctx: Context, *, highlight_id: str) -> str:
    viewer = ctx.signed_in()
    await stories.delete_highlight(
        owner_id=viewer, highlight_id=id_input(highlight_id, "Highlight", field="highlightId")
    )
    return highlight_id


async def visible_highlight(ctx: Context, highlight_id: int) -> stories.HighlightView | None:
    found = await stories.highlight_by_id(highlight_id)
    if found is None or not await can_see_posts_of(ctx, found.owner_id):
        return None
    return found


async def seen_by_viewer(ctx: Context, story_id: int) -> bool:
    return await ctx.loaders.story_seen.load(story_id)


async def is_close_friend(ctx: Context, user_id: int) -> bool:
    """Whether `user_id` is on the viewer's list (the viewer's own list only)."""
    viewer = ctx.require_viewer()
    return viewer in await stories.close_friends_among(viewer_id=user_id, owner_ids=[viewer])
