from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.pagination import Page
from domain.users.store import UserView
from resolvers import posts as posts_resolve
from resolvers import stories as stories_resolve
from resolvers import users as resolve
from resolvers.context import Info
from resolvers.global_ids import to_global_id
from schema.media import Media
from schema.node import Node
from schema.pagination import Connection

if TYPE_CHECKING:
    from schema.posts import Post
    from schema.stories import Highlight, Story


@strawberry.enum(description="How the viewer follows an account.")
class FollowState(Enum):
    NONE = "NONE"
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"


@strawberry.type(description="An account.")
class User(Node):
    raw_id: strawberry.Private[int]
    username: str
    full_name: str
    bio: str
    is_private: bool
    follower_count: int
    following_count: int
    post_count: int
    created_at: datetime

    @classmethod
    def from_view(cls, view: UserView) -> User:
        return cls(
            id=strawberry.ID(to_global_id("User", view.id)),
            raw_id=view.id,
            username=view.username,
            full_name=view.full_name,
            bio=view.bio,
            is_private=view.is_private,
            follower_count=view.follower_count,
            following_count=view.following_count,
            post_count=view.post_count,
            created_at=view.created_at,
        )

    @classmethod
    def maybe(cls, view: UserView | None) -> User | None:
        return None if view is None else cls.from_view(view)

    async def _view(self, info: Info) -> UserView:
        view = await info.context.loaders.user.load(self.raw_id)
        assert view is not None
        return view

    @strawberry.field
    async def avatar(self, info: Info) -> Media | None:
        view = await self._view(info)
        if view.avatar_media_id is None:
            return None
        media = await info.context.loaders.media.load(view.avatar_media_id)
        return Media.from_view(media) if media else None

    @strawberry.field(
        description="Newest first; empty for a private account the viewer does not follow."
    )
    async def posts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Post, strawberry.lazy("schema.posts")]]:
        from schema.posts import post_connection

        view = await self._view(info)
        page = await posts_resolve.user_posts(info.context, view, first, after)
        shown = await posts_resolve.can_see_posts_of(info.context, view.id)
        return await post_connection(info, page, total=view.post_count if shown else 0)

    @strawberry.field(description="The account's reels, newest first.")
    async def reels(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Post, strawberry.lazy("schema.posts")]]:
        from schema.posts import post_connection

        page = await posts_resolve.user_posts(
            info.context, await self._view(info), first, after, reels=True
        )
        return await post_connection(info, page)

    @strawberry.field(
        description="Its highlights, newest first, for whoever may see its posts (each story"
        " with its audience rule)."
    )
    async def highlights(
        self, info: Info
    ) -> list[Annotated[Highlight, strawberry.lazy("schema.stories")]]:
        from schema.stories import Highlight

        return [
            Highlight.from_view(h)
            for h in await stories_resolve.highlights(info.context, self.raw_id)
        ]

    @strawberry.field(description="On the viewer's close friends list (false but for the viewer).")
    async def is_close_friend(self, info: Info) -> bool:
        viewer = info.context.viewer_id
        if viewer is None or viewer == self.raw_id:
            return False
        return await stories_resolve.is_close_friend(info.context, self.raw_id)

    @strawberry.field(description="The close friends list, newest first; only on the viewer.")
    async def close_friends(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        page = await stories_resolve.close_friends(info.context, self.raw_id, first, after)
        return await user_connection(info, page)

    @strawberry.field(
        description="Every story of the account's, expired ones too, newest first;"
        " only on the viewer."
    )
    async def story_archive(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Story, strawberry.lazy("schema.stories")]]:
        from schema.stories import Story

        page = await stories_resolve.archive(info.context, self.raw_id, first, after)
        found = await info.context.loaders.story.load_many(page.ids)
        return Connection.of(page, [Story.from_view(s) if s else None for s in found])

    @strawberry.field(description="Posts the viewer saved, newest save first; only on the viewer.")
    async def saved_posts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Post, strawberry.lazy("schema.posts")]]:
        from schema.posts import post_connection

        page = await posts_resolve.saved_posts(info.context, await self._view(info), first, after)
        return await post_connection(info, page)

    @strawberry.field(description="The viewer is this account.")
    def is_viewer(self, info: Info) -> bool:
        return info.context.viewer_id == self.raw_id

    @strawberry.field(description="The viewer follows this account (an approved follow).")
    async def viewer_follows(self, info: Info) -> bool:
        return await info.context.loaders.viewer_follow_status.load(self.raw_id) == "ACTIVE"

    @strawberry.field(description="NONE, PENDING (request sent) or ACTIVE.")
    async def viewer_follow_state(self, info: Info) -> FollowState:
        status = await info.context.loaders.viewer_follow_status.load(self.raw_id)
        return FollowState(status or "NONE")

    @strawberry.field(description="This account follows the viewer.")
    async def follows_viewer(self, info: Info) -> bool:
        return await info.context.loaders.follows_viewer.load(self.raw_id)

    @strawberry.field(description="Empty for a private account the viewer does not follow.")
    async def followers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        view = await self._view(info)
        page = await resolve.followers(info.context, view, first, after)
        shown = await resolve.can_see_graph(info.context, view)
        return await user_connection(info, page, total=view.follower_count if shown else 0)

    @strawberry.field(description="Empty for a private account the viewer does not follow.")
    async def following(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        view = await self._view(info)
        page = await resolve.following(info.context, view, first, after)
        shown = await resolve.can_see_graph(info.context, view)
        return await user_connection(info, page, total=view.following_count if shown else 0)

    @strawberry.field(description="Accounts waiting for approval; only on the viewer.")
    async def follow_requests(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        page = await resolve.follow_requests(info.context, await self._view(info), first, after)
        return await user_connection(info, page)


async def user_connection(info: Info, page: Page, *, total: int | None = None) -> Connection[User]:
    views = await info.context.loaders.user.load_many(page.ids)
    return Connection.of(page, [User.from_view(v) if v else None for v in views], total=total)
