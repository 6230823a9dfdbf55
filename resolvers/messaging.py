"""Direct messages: argument mapping and membership checks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from domain.cache import from_json
from domain.errors import ErrorCode, not_found
from domain.graph import service as graph
from domain.messaging import flows
from domain.messaging import service as messaging
from domain.messaging.service import MessageView, ThreadState
from domain.pagination import Page
from domain.realtime.events import messages_channel, typing_channel
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import both_ways_arguments, id_argument, id_input, page_arguments


async def send(
    ctx: Context,
    *,
    thread_id: str | None,
    recipient_ids: list[str] | None,
    text: str,
    media_id: str | None,
    post_id: str | None,
    client_id: str | None,
) -> MessageView:
    viewer = ctx.signed_in()
    raw_thread = id_input(thread_id, "Thread", field="threadId") if thread_id else None
    recipients = (
        [id_input(r, "User", field="recipientIds") for r in recipient_ids]
        if recipient_ids is not None
        else None
    )
    # Messages to people who do not follow the sender come out of a budget (spam's way in).
    others = recipients if recipients is not None else await messaging.members_of(raw_thread or 0)
    others = [o for o in others if o != viewer]
    followers = await graph.followers_among(user_id=viewer, candidate_ids=others)
    budget = ctx.spending("message") if set(others) - followers else contextlib.nullcontext()
    async with budget:
        message = await flows.send_message(
            sender_id=viewer,
            thread_id=raw_thread,
            recipient_ids=recipients,
            text=text,
            media_id=id_input(media_id, "Media", field="mediaId") if media_id else None,
            post_id=id_input(post_id, "Post", field="postId") if post_id else None,
            client_id=client_id,
            ports=ctx.runtime.ports,
            posts=ctx.runtime.posts,
        )
    ctx.loaders.prime(ctx.loaders.message, {message.id: message})
    return message


async def _member_thread(ctx: Context, global_id: str, *, field: str = "threadId") -> int:
    viewer = ctx.signed_in()
    thread_id = id_input(global_id, "Thread", field=field)
    if not await messaging.is_member(user_id=viewer, thread_id=thread_id):
        raise not_found("thread", field=field)
    return thread_id


async def mark_read(ctx: Context, *, thread_id: str, message_id: str) -> ThreadState:
    viewer = ctx.signed_in()
    raw_thread = await _member_thread(ctx, thread_id)
    await messaging.mark_read(
        user_id=viewer,
        thread_id=raw_thread,
        message_id=id_input(message_id, "Message", field="messageId"),
    )
    return await _fresh_state(ctx, raw_thread)


async def accept(ctx: Context, *, thread_id: str) -> ThreadState:
    viewer = ctx.signed_in()
    raw_thread = await _member_thread(ctx, thread_id)
    await messaging.accept_request(user_id=viewer, thread_id=raw_thread)
    return await _fresh_state(ctx, raw_thread)


async def _fresh_state(ctx: Context, thread_id: int) -> ThreadState:
    ctx.loaders.forget_keys(ctx.loaders.thread_state, thread_id)
    state = await ctx.loaders.thread_state.load(thread_id)
    assert state is not None
    return state


async def set_typing(ctx: Context, *, thread_id: str) -> bool:
    viewer = ctx.signed_in()
    raw_thread = await _member_thread(ctx, thread_id)
    await flows.set_typing(thread_id=raw_thread, user_id=viewer, ports=ctx.runtime.ports)
    return True


async def threads(ctx: Context, first: int | None, after: str | None, *, requests: bool) -> Page:
    viewer = ctx.require_viewer()
    limit, position = page_arguments(first, after)
    return await messaging.threads(user_id=viewer, requests=requests, first=limit, after=position)


async def thread(ctx: Context, global_id: str) -> ThreadState | None:
    ctx.require_viewer()
    return await ctx.loaders.thread_state.load(id_argument(global_id, "Thread"))


async def messages(
    ctx: Context,
    state: ThreadState,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Page:
    limit, position, backward = both_ways_arguments(first, after, last, before)
    return await messaging.messages(
        viewer_id=ctx.require_viewer(),
        thread_id=state.thread_id,
        first=limit,
        after=position,
        backward=backward,
    )


async def last_message(ctx: Context, state: ThreadState) -> MessageView | None:
    """The thread's newest message the viewer may see (in a group, the newest may be from
    across a block)."""
    if state.last_message_id is None:
        return None
    row = await ctx.loaders.message.load(state.last_message_id)
    held = row is not None and row.hidden and row.sender_id != ctx.viewer_id
    if (
        row is not None
        and not held
        and not await ctx.loaders.blocked_with_viewer.load(row.sender_id)
    ):
        return row
    page = await messages(ctx, state, 1, None)
    return await ctx.loaders.message.load(page.ids[0]) if page.ids else None


async def visible_message(ctx: Context, message_id: int) -> MessageView | None:
    """A message of one of the viewer's threads, not from across a block."""
    row = await ctx.loaders.message.load(message_id)
    if row is None or await ctx.loaders.thread_state.load(row.thread_id) is None:
        return None
    if row.hidden and row.sender_id != ctx.viewer_id:
        return None  # held for review
    return None if await ctx.loaders.blocked_with_viewer.load(row.sender_id) else row


async def unread_total(ctx: Context) -> int:
    return await messaging.unread_total(user_id=ctx.require_viewer())


async def message_received(ctx: Context, thread_id: str | None) -> AsyncIterator[MessageView]:
    """Every message of the viewer's threads (or of one), as it is committed."""
    viewer = ctx.require_viewer()
    only = id_argument(thread_id, "Thread", argument="threadId") if thread_id else None
    if only is not None and not await messaging.is_member(user_id=viewer, thread_id=only):
        raise ClientError("No thread with this id.", code=ErrorCode.NOT_FOUND)
    async with ctx.runtime.hub.subscribe(messages_channel(viewer)) as events:
        while True:
            event = await events.get()
            if only is not None and event.get("threadId") != only:
                continue
            await ctx.check_session()
            yield from_json(MessageView, event["message"])


async def typing(ctx: Context, thread_id: str) -> AsyncIterator[int]:
    """The ids of the thread's other members as they type."""
    viewer = ctx.require_viewer()
    raw_thread = id_argument(thread_id, "Thread", argument="threadId")
    if not await messaging.is_member(user_id=viewer, thread_id=raw_thread):
        raise ClientError("No thread with this id.", code=ErrorCode.NOT_FOUND)
    async with ctx.runtime.hub.subscribe(typing_channel(raw_thread)) as events:
        while True:
            event = await events.get()
            typist = int(event["userId"])
            # Across a block (even one made after the thread began) typing is not delivered.
            if typist != viewer and not await messaging.hidden_from(viewer, [typist]):
                await ctx.check_session()
                yield typist
