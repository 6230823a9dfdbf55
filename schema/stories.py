"""Stories, the tray, close friends and highlights."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.errors import ErrorCode
from domain.stories.models import Audience
from domain.stories.service import HighlightView, Reel
from domain.stories.store import StoryView
from resolvers import stories as resolve
from resolvers.context import Info
from resolvers.global_ids import to_global_id
from schema.errors import UserError, mutation, respond
from schema.media import Media
from schema.messaging import Message
from schema.node import Node
from schema.pagination import Connection
from schema.user import User

strawberry.enum(
    Audience,
    name="StoryAudience",
    description="EVERYONE: all who may see the author's posts. CLOSE_FRIENDS: only those on"
    " the author's close friends list when they look.",
)


@strawberry.type(
    description="A photo or video that lives 24 hours (then only in the owner's"
    " archive and highlights)."
)
class Story(Node):
    raw: strawberry.Private[StoryView]
    audience: Audience
    caption: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_view(cls, view: StoryView) -> Story:
        return cls(
            id=strawberry.ID(to_global_id("Story", view.id)),
            raw=view,
            audience=Audience(view.audience),
            caption=view.caption,
            created_at=view.created_at,
            expires_at=view.expires_at,
        )

    @strawberry.field
    async def author(self, info: Info) -> User | None:
        return User.maybe(await info.context.loaders.user.load(self.raw.author_id))

    @strawberry.field
    async def media(self, info: Info) -> Media | None:
        view = await info.context.loaders.media.load(self.raw.media_id)
        return Media.from_view(view) if view else None

    @strawberry.field
    async def viewer_has_seen(self, info: Info) -> bool:
        if info.context.viewer_id in (None, self.raw.author_id):
            return info.context.viewer_id is not None
        return await resolve.seen_by_viewer(info.context, self.raw.id)

    @strawberry.field(description="How many have seen it; null but for its author.")
    def view_count(self, info: Info) -> int | None:
        return self.raw.view_count if info.context.viewer_id == self.raw.author_id else None

    @strawberry.field(
        description="Who saw it, newest first: for its author only, for 48 hours after posting."
    )
    async def viewers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        from schema.user import user_connection

        page = await resolve.viewers(info.context, self.raw, first, after)
        return await user_connection(info, page)


@strawberry.type(description="One account's live stories in the tray, oldest first.")
class StoryReel:
    raw: strawberry.Private[Reel]
    has_unseen: bool
    latest_at: datetime

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return User.maybe(await info.context.loaders.user.load(self.raw.author_id))

    @strawberry.field
    def stories(self) -> list[Story]:
        return [Story.from_view(s) for s in self.raw.stories]


@strawberry.type(description="Stories kept on a profile past their 24 hours.")
class Highlight(Node):
    raw: strawberry.Private[HighlightView]
    title: str
    created_at: datetime

    @classmethod
    def from_view(cls, view: HighlightView) -> Highlight:
        return cls(
            id=strawberry.ID(to_global_id("Highlight", view.id)),
            raw=view,
            title=view.title,
            created_at=view.created_at,
        )

    @strawberry.field
    async def cover(self, info: Info) -> Media | None:
        if self.raw.cover_media_id is None:
            return None
        view = await info.context.loaders.media.load(self.raw.cover_media_id)
        return Media.from_view(view) if view else None

    @strawberry.field(description="Those the viewer may see (each story's audience holds).")
    async def stories(self, info: Info) -> list[Story]:
        return [Story.from_view(s) for s in await resolve.highlight_stories(info.context, self.raw)]


@strawberry.input
class CreateStoryInput:
    media_id: strawberry.ID
    audience: Audience = Audience.EVERYONE
    caption: str = ""


@strawberry.type
class StoryPayload:
    story: Story | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class MarkStoriesSeenInput:
    story_ids: list[strawberry.ID]


@strawberry.type
class MarkStoriesSeenPayload:
    marked: int = strawberry.field(default=0, description="How many were new to the viewer.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="text, or emoji for a reaction.")
class ReplyToStoryInput:
    story_id: strawberry.ID
    text: str | None = None
    emoji: str | None = None
    client_id: str | None = None


@strawberry.type
class ReplyToStoryPayload:
    message: Message | None = strawberry.field(
        default=None, description="The direct message to the story's author that carries it."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class AddCloseFriendInput:
    user_id: strawberry.ID


@strawberry.input
class RemoveCloseFriendInput:
    user_id: strawberry.ID


@strawberry.type
class CloseFriendPayload:
    raw: strawberry.Private[int | None] = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return User.maybe(await info.context.loaders.user.load(self.raw)) if self.raw else None


@strawberry.input
class CreateHighlightInput:
    title: str
    story_ids: list[strawberry.ID]
    cover_media_id: strawberry.ID | None = None


@strawberry.input
class AddToHighlightInput:
    highlight_id: strawberry.ID
    story_ids: list[strawberry.ID]


@strawberry.input
class RemoveFromHighlightInput:
    highlight_id: strawberry.ID
    story_ids: list[strawberry.ID]


@strawberry.input
class DeleteHighlightInput:
    highlight_id: strawberry.ID


@strawberry.type
class HighlightPayload:
    highlight: Highlight | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteHighlightPayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _story(view: StoryView) -> StoryPayload:
    return StoryPayload(story=Story.from_view(view))


def _highlight(view: HighlightView) -> HighlightPayload:
    return HighlightPayload(highlight=Highlight.from_view(view))


_TARGET = (ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND)


@strawberry.type
class StoryQuery:
    @strawberry.field(
        description="The viewer's own reel first, then followed accounts with live stories the"
        " viewer may see: unseen before seen, then those the viewer engages with most (likes,"
        " comments, messages, stories seen), then newest."
    )
    async def story_tray(self, info: Info) -> list[StoryReel]:
        reels = await resolve.tray(info.context)
        return [StoryReel(raw=r, has_unseen=r.has_unseen, latest_at=r.latest_at) for r in reels]


@strawberry.type
class StoryMutation:
    @mutation(
        "Post a story: a READY photo, or a video up to 60 s, of yours; it lives 24 hours. At"
        " most 100 in any 24 hours.",
        errors=(*_TARGET, ErrorCode.INVALID_INPUT),
    )
    async def create_story(self, info: Info, input: CreateStoryInput) -> StoryPayload:
        return await respond(
            info,
            StoryPayload,
            lambda: resolve.create(
                info.context,
                media_id=input.media_id,
                audience=input.audience,
                caption=input.caption,
            ),
            _story,
        )

    @mutation(
        "Mark stories seen (again: nothing changes). All or nothing: a story you may not see"
        " now refuses the lot.",
        errors=(*_TARGET, ErrorCode.INVALID_INPUT),
    )
    async def mark_stories_seen(
        self, info: Info, input: MarkStoriesSeenInput
    ) -> MarkStoriesSeenPayload:
        return await respond(
            info,
            MarkStoriesSeenPayload,
            lambda: resolve.mark_seen(info.context, story_ids=list(input.story_ids)),
            lambda marked: MarkStoriesSeenPayload(marked=marked),
        )

    @mutation(
        "Reply to a story (text) or react to it (emoji): a direct message to its author.",
        errors=(*_TARGET, ErrorCode.INVALID_INPUT, ErrorCode.BLOCKED, ErrorCode.FORBIDDEN),
    )
    async def reply_to_story(self, info: Info, input: ReplyToStoryInput) -> ReplyToStoryPayload:
        return await respond(
            info,
            ReplyToStoryPayload,
            lambda: resolve.reply(
                info.context,
                story_id=input.story_id,
                text=input.text,
                emoji=input.emoji,
                client_id=input.client_id,
            ),
            lambda message: ReplyToStoryPayload(message=Message.from_row(message)),
        )

    @mutation(
        "Add someone to your close friends (nobody is told).",
        errors=(*_TARGET, ErrorCode.INVALID_INPUT),
    )
    async def add_close_friend(self, info: Info, input: AddCloseFriendInput) -> CloseFriendPayload:
        return await respond(
            info,
            CloseFriendPayload,
            lambda: resolve.set_close_friend(info.context, user_id=input.user_id, on=True),
            lambda user_id: CloseFriendPayload(raw=user_id),
        )

    @mutation(
        "Take someone off your close friends (nobody is told).",
        errors=(*_TARGET, ErrorCode.INVALID_INPUT),
    )
    async def remove_close_friend(
        self, info: Info, input: RemoveCloseFriendInput
    ) -> CloseFriendPayload:
        return await respond(
            info,
            CloseFriendPayload,
            lambda: resolve.set_close_friend(info.context, user_id=input.user_id, on=False),
            lambda user_id: CloseFriendPayload(raw=user_id),
        )

    @mutation(
        "Keep some of your stories on your profile.", errors=(*_TARGET, ErrorCode.INVALID_INPUT)
    )
    async def create_highlight(self, info: Info, input: CreateHighlightInput) -> HighlightPayload:
        return await respond(
            info,
            HighlightPayload,
            lambda: resolve.create_highlight(
                info.context,
                title=input.title,
                story_ids=list(input.story_ids),
                cover_media_id=input.cover_media_id,
            ),
            _highlight,
        )

    @mutation(
        "Add your stories to a highlight of yours.", errors=(*_TARGET, ErrorCode.INVALID_INPUT)
    )
    async def add_to_highlight(self, info: Info, input: AddToHighlightInput) -> HighlightPayload:
        return await respond(
            info,
            HighlightPayload,
            lambda: resolve.change_highlight(
                info.context,
                highlight_id=input.highlight_id,
                add=list(input.story_ids),
                remove=[],
            ),
            _highlight,
        )

    @mutation(
        "Take stories out of a highlight of yours.", errors=(*_TARGET, ErrorCode.INVALID_INPUT)
    )
    async def remove_from_highlight(
        self, info: Info, input: RemoveFromHighlightInput
    ) -> HighlightPayload:
        return await respond(
            info,
            HighlightPayload,
            lambda: resolve.change_highlight(
                info.context,
                highlight_id=input.highlight_id,
                add=[],
                remove=list(input.story_ids),
            ),
            _highlight,
        )

    @mutation("Delete a highlight of yours (its stories stay in your archive).", errors=_TARGET)
    async def delete_highlight(
        self, info: Info, input: DeleteHighlightInput
    ) -> DeleteHighlightPayload:
        return await respond(
            info,
            DeleteHighlightPayload,
            lambda: resolve.delete_highlight(info.context, highlight_id=input.highlight_id),
            lambda deleted: DeleteHighlightPayload(deleted_id=strawberry.ID(deleted)),
        )
