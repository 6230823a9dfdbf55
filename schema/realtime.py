"""The Subscription root."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from resolvers import messaging, notifications
from resolvers import realtime as resolve
from resolvers.context import Info
from schema.media import Media
from schema.messaging import Message, TypingEvent
from schema.notifications import Notification
from schema.user import User


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="A media item's status as it moves: PROCESSING, then "
        "READY or FAILED (then the subscription ends)."
    )
    async def media_processed(
        self, info: Info, media_id: strawberry.ID
    ) -> AsyncGenerator[Media, None]:
        async for view in resolve.media_processed(info.context, media_id):
            yield Media.from_view(view)

    @strawberry.subscription(description="Messages of all the viewer's threads, or of one.")
    async def message_received(
        self, info: Info, thread_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Message, None]:
        async for row in messaging.message_received(info.context, thread_id):
            yield Message.from_row(row)

    @strawberry.subscription(description="Someone else in the thread is typing.")
    async def typing(
        self, info: Info, thread_id: strawberry.ID
    ) -> AsyncGenerator[TypingEvent, None]:
        async for user_id in messaging.typing(info.context, thread_id):
            view = await info.context.runtime.users.get(user_id)
            yield TypingEvent(thread_id=thread_id, user=User.maybe(view))

    @strawberry.subscription(description="The viewer's notifications as they are made.")
    async def notification_received(self, info: Info) -> AsyncGenerator[Notification, None]:
        async for row in notifications.received(info.context):
            yield Notification.from_row(row)
