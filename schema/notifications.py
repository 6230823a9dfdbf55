"""Notifications: the list, marking read, and the entry type."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.errors import ErrorCode
from domain.notifications.service import NotificationView
from domain.pagination import Page
from resolvers import notifications as resolve
from resolvers import posts as posts_resolve
from resolvers import stories as stories_resolve
from resolvers.context import Info
from resolvers.global_ids import page_arguments, to_global_id
from schema.errors import UserError, mutation, respond
from schema.node import Node
from schema.pagination import Connection
from schema.posts import Comment, Post, build_post
from schema.user import User

if TYPE_CHECKING:
    from schema.stories import Story


@strawberry.enum
class NotificationKind(Enum):
    LIKE = "LIKE"
    COMMENT = "COMMENT"
    FOLLOW = "FOLLOW"
    FOLLOW_REQUEST = "FOLLOW_REQUEST"
    MENTION = "MENTION"


@strawberry.type(
    description="Likes on one post are one entry: actors (newest first) and "
    "actorCount make 'ana, bo and 3 others'."
)
class Notification(Node):
    raw: strawberry.Private[NotificationView]
    kind: NotificationKind
    actor_count: int
    read: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: NotificationView) -> Notification:
        return cls(
            id=strawberry.ID(to_global_id("Notification", row.id)),
            raw=row,
            kind=NotificationKind(row.kind),
            actor_count=row.actor_count,
            read=row.read,
            created_at=row.created_at,
        )

    @strawberry.field(
        description="Who did it, newest first: the newest 20 are kept (actorCount counts them"
        " all and is the connection's totalCount); accounts one may not see are left out."
    )
    async def actors(
        self, info: Info, first: int | None = 3, after: str | None = None
    ) -> Connection[User]:
        limit, position = page_arguments(3 if first is None else first, after)
        start = 0 if position is None else position + 1
        ids = self.raw.actor_ids[start : start + limit]
        views = await info.context.loaders.user.load_many(ids)
        blocked = await info.context.loaders.blocked_with_viewer.load_many(ids)
        page = Page(
            [(start + n, i) for n, i in enumerate(ids)],
            start + limit < len(self.raw.actor_ids),
        )
        users = [
            User.from_view(v) if v and not b else None for v, b in zip(views, blocked, strict=True)
        ]
        return Connection.of(page, users, total=self.actor_count)

    @strawberry.field
    async def post(self, info: Info) -> Post | None:
        if self.raw.post_id is None:
            return None
        return await build_post(
            info, await posts_resolve.visible_post(info.context, self.raw.post_id)
        )

    @strawberry.field
    async def comment(self, info: Info) -> Comment | None:
        if self.raw.comment_id is None:
            return None
        view = await posts_resolve.visible_comment(info.context, self.raw.comment_id)
        return Comment.from_view(view) if view else None

    @strawberry.field(description="The story of a MENTION in one; null once you may not see it.")
    async def story(self, info: Info) -> Annotated[Story, strawberry.lazy("schema.stories")] | None:
        from schema.stories import Story

        if self.raw.story_id is None:
            return None
        view = await stories_resolve.visible_story(info.context, self.raw.story_id)
        return Story.from_view(view) if view else None


@strawberry.type
class NotificationConnection(Connection[Notification]):
    @classmethod
    async def load(cls, info: Info, page: Page) -> NotificationConnection:
        found = {row.id: row for row in await resolve.rows(info.context, page.ids)}
        return cls.of(
            page, [Notification.from_row(found[i]) if i in found else None for i in page.ids]
        )

    @strawberry.field(description="Unread notifications (counted up to 100).")
    async def unread_count(self, info: Info) -> int:
        return await resolve.unread_count(info.context)


@strawberry.input
class MarkNotificationsReadInput:
    up_to_id: strawberry.ID


@strawberry.type
class MarkNotificationsReadPayload:
    unread_count: int | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="Newest first; a grouped entry moves up when it grows.")
    async def notifications(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> NotificationConnection:
        return await NotificationConnection.load(
            info, await resolve.page(info.context, first, after)
        )


@strawberry.type
class NotificationMutation:
    @mutation(
        "Mark this notification and every one below it read.",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND),
    )
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        return await respond(
            info,
            MarkNotificationsReadPayload,
            lambda: resolve.mark_read(info.context, up_to_id=input.up_to_id),
            lambda unread: MarkNotificationsReadPayload(unread_count=unread),
        )
