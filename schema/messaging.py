"""Direct messages: Thread, Message, their queries and mutations."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.errors import ErrorCode
from domain.messaging.service import MessageView, ThreadState
from domain.pagination import Page
from resolvers import messaging as resolve
from resolvers import posts as posts_resolve
from resolvers import stories as stories_resolve
from resolvers.context import Info
from resolvers.global_ids import to_global_id
from schema.errors import UserError, mutation, respond
from schema.media import Media
from schema.node import Node
from schema.pagination import Connection
from schema.posts import Post, build_post
from schema.user import User

if TYPE_CHECKING:
    from schema.stories import Story


@strawberry.enum
class ThreadKind(Enum):
    DIRECT = "DIRECT"
    GROUP = "GROUP"


@strawberry.type(description="A direct message.")
class Message(Node):
    raw: strawberry.Private[MessageView]
    text: str
    client_id: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: MessageView) -> Message:
        return cls(
            id=strawberry.ID(to_global_id("Message", row.id)),
            raw=row,
            text=row.text,
            client_id=row.client_id,
            created_at=row.created_at,
        )

    @strawberry.field(description="Null when the sender's account is hidden from you.")
    async def sender(self, info: Info) -> User | None:
        view = await info.context.loaders.user.load(self.raw.sender_id)
        return User.maybe(view)

    @strawberry.field
    async def thread(self, info: Info) -> Thread | None:
        state = await info.context.loaders.thread_state.load(self.raw.thread_id)
        return Thread.from_state(state) if state else None

    @strawberry.field
    async def media(self, info: Info) -> Media | None:
        if self.raw.media_id is None:
            return None
        view = await info.context.loaders.media.load(self.raw.media_id)
        return Media.from_view(view) if view else None

    @strawberry.field(description="A reply to a story: true even once the story is gone.")
    def is_story_reply(self) -> bool:
        return self.raw.story_id is not None

    @strawberry.field(
        description="The story replied to; null when it is not (or no longer) one you may see:"
        ' show "story unavailable" for a story reply.'
    )
    async def story(self, info: Info) -> Annotated[Story, strawberry.lazy("schema.stories")] | None:
        from schema.stories import Story

        if self.raw.story_id is None:
            return None
        view = await stories_resolve.visible_story(info.context, self.raw.story_id)
        return Story.from_view(view) if view else None

    @strawberry.field(description="A shared post; null if it is gone or not visible to you.")
    async def post(self, info: Info) -> Post | None:
        if self.raw.post_id is None:
            return None
        view = await posts_resolve.visible_post(info.context, self.raw.post_id)
        return await build_post(info, view)


async def message_connection(info: Info, page: Page) -> Connection[Message]:
    rows = await info.context.loaders.message.load_many(page.ids)
    return Connection.of(page, [Message.from_row(row) if row else None for row in rows])


@strawberry.type(description="A conversation, as the viewer sees it.")
class Thread(Node):
    raw: strawberry.Private[ThreadState]
    kind: ThreadKind
    unread_count: int
    is_request: bool = strawberry.field(description="In the viewer's requests folder.")

    created_at: datetime
    updated_at: datetime = strawberry.field(description="Its last activity: its newest message.")

    @classmethod
    def from_state(cls, state: ThreadState) -> Thread:
        return cls(
            id=strawberry.ID(to_global_id("Thread", state.thread_id)),
            raw=state,
            kind=ThreadKind(state.kind),
            unread_count=state.unread_count,
            is_request=state.status == "REQUEST",
            created_at=state.created_at,
            updated_at=state.updated_at,
        )

    @strawberry.field(description="Its members, but for anyone across a block from the viewer.")
    async def participants(self, info: Info) -> list[User]:
        loaders = info.context.loaders
        ids = await loaders.thread_members.load(self.raw.thread_id)
        views = await loaders.user.load_many(ids)
        hidden = await loaders.blocked_with_viewer.load_many(ids)
        return [User.from_view(v) for v, h in zip(views, hidden, strict=True) if v and not h]

    @strawberry.field(description="Its newest message the viewer may see.")
    async def last_message(self, info: Info) -> Message | None:
        row = await resolve.last_message(info.context, self.raw)
        return Message.from_row(row) if row else None

    @strawberry.field(
        description="Newest first; none from anyone across a block from the viewer. Page"
        " forward with first/after (older messages), or backward with last/before (the newer"
        " ones before a cursor, as a chat does when it jumps to a message; `last` alone: the"
        " oldest)."
    )
    async def messages(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Message]:
        page = await resolve.messages(info.context, self.raw, first, after, last, before)
        return await message_connection(info, page)


@strawberry.type
class ThreadConnection(Connection[Thread]):
    @classmethod
    async def load(cls, info: Info, page: Page) -> ThreadConnection:
        states = await info.context.loaders.thread_state.load_many(page.ids)
        return cls.of(page, [Thread.from_state(state) if state else None for state in states])

    @strawberry.field(description="Unread messages across the viewer's accepted threads.")
    async def unread_count(self, info: Info) -> int:
        return await resolve.unread_total(info.context)


@strawberry.type
class TypingEvent:
    thread_id: strawberry.ID
    user: User | None


@strawberry.input
class SendMessageInput:
    thread_id: strawberry.ID | None = None
    recipient_ids: list[strawberry.ID] | None = None
    text: str = ""
    media_id: strawberry.ID | None = None
    post_id: strawberry.ID | None = None
    client_id: str | None = strawberry.field(
        default=None,
        description="Your id for this send: a retry with it returns the same "
        "message instead of sending another.",
    )


@strawberry.input
class MarkThreadReadInput:
    thread_id: strawberry.ID
    message_id: strawberry.ID


@strawberry.input
class ThreadInput:
    thread_id: strawberry.ID


@strawberry.input
class SetTypingInput(ThreadInput):
    pass


@strawberry.input
class AcceptMessageRequestInput(ThreadInput):
    pass


@strawberry.type
class SendMessagePayload:
    message: Message | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ThreadPayload:
    thread: Thread | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetTypingPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


def _sent(row: MessageView) -> SendMessagePayload:
    return SendMessagePayload(message=Message.from_row(row))


def _thread(state: ThreadState) -> ThreadPayload:
    return ThreadPayload(thread=Thread.from_state(state))


def _typing(_: bool) -> SetTypingPayload:
    return SetTypingPayload(ok=True)


# The codes of every action on a thread named by id.
_TARGET = (ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND)


@strawberry.type
class MessagingQuery:
    @strawberry.field(description="The viewer's threads, newest activity first.")
    async def threads(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ThreadConnection:
        page = await resolve.threads(info.context, first, after, requests=False)
        return await ThreadConnection.load(info, page)

    @strawberry.field(description="Threads from accounts the viewer does not follow.")
    async def message_requests(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ThreadConnection:
        page = await resolve.threads(info.context, first, after, requests=True)
        return await ThreadConnection.load(info, page)

    @strawberry.field
    async def thread(self, info: Info, id: strawberry.ID) -> Thread | None:
        state = await resolve.thread(info.context, id)
        return Thread.from_state(state) if state else None


@strawberry.type
class MessagingMutation:
    @mutation(
        "To a thread, or to people (one: their 1:1 thread; more: a new group of up to 32)."
        " Someone who blocked you is NOT_FOUND, as an unknown id is; BLOCKED means you blocked"
        " them; a new group may not hold both sides of a block (FORBIDDEN). In a group, the"
        " members across a block from you do not get your message.",
        errors=(*_TARGET, ErrorCode.INVALID_INPUT, ErrorCode.BLOCKED, ErrorCode.FORBIDDEN),
    )
    async def send_message(self, info: Info, input: SendMessageInput) -> SendMessagePayload:
        recipients = input.recipient_ids
        return await respond(
            info,
            SendMessagePayload,
            lambda: resolve.send(
                info.context,
                thread_id=input.thread_id,
                recipient_ids=list(recipients) if recipients is not None else None,
                text=input.text,
                media_id=input.media_id,
                post_id=input.post_id,
                client_id=input.client_id,
            ),
            _sent,
        )

    @mutation("Mark the thread read up to this message.", errors=_TARGET)
    async def mark_thread_read(self, info: Info, input: MarkThreadReadInput) -> ThreadPayload:
        return await respond(
            info,
            ThreadPayload,
            lambda: resolve.mark_read(
                info.context, thread_id=input.thread_id, message_id=input.message_id
            ),
            _thread,
        )

    @mutation("Move a thread from requests into the inbox.", errors=_TARGET)
    async def accept_message_request(
        self, info: Info, input: AcceptMessageRequestInput
    ) -> ThreadPayload:
        return await respond(
            info,
            ThreadPayload,
            lambda: resolve.accept(info.context, thread_id=input.thread_id),
            _thread,
        )

    @mutation("Tell the others you are typing (not stored).", errors=_TARGET)
    async def set_typing(self, info: Info, input: SetTypingInput) -> SetTypingPayload:
        return await respond(
            info,
            SetTypingPayload,
            lambda: resolve.set_typing(info.context, thread_id=input.thread_id),
            _typing,
        )
