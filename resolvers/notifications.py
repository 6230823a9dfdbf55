"""The viewer's notifications."""

from __future__ import annotations

from collections.abc import AsyncIterator

from domain.errors import not_found
from domain.notifications import service as notifications
from domain.notifications.service import NotificationView
from domain.pagination import Page
from domain.realtime.events import notifications_channel
from resolvers.context import Context
from resolvers.global_ids import id_input, page_arguments


async def page(ctx: Context, first: int | None, after: str | None) -> Page:
    viewer = ctx.require_viewer()
    limit, position = page_arguments(first, after)
    return await notifications.page(user_id=viewer, first=limit, after=position)


async def rows(ctx: Context, ids: list[int]) -> list[NotificationView]:
    found = await notifications.by_ids(ids)
    return [found[i] for i in ids if i in found and found[i].user_id == ctx.viewer_id]


async def unread_count(ctx: Context) -> int:
    return await notifications.unread_count(user_id=ctx.require_viewer())


async def mark_read(ctx: Context, *, up_to_id: str) -> int:
    viewer = ctx.signed_in()
    raw_id = id_input(up_to_id, "Notification", field="upToId")
    found = await notifications.by_ids([raw_id])
    if raw_id not in found or found[raw_id].user_id != viewer:
        raise not_found("notification", field="upToId")
    await notifications.mark_read(user_id=viewer, up_to_id=raw_id)
    return await notifications.unread_count(user_id=viewer)


async def received(ctx: Context) -> AsyncIterator[NotificationView]:
    viewer = ctx.require_viewer()
    async with ctx.runtime.hub.subscribe(notifications_channel(viewer)) as events:
        while True:
            event = await events.get()
            found = await notifications.by_ids([int(event["notificationId"])])
            row = found.get(int(event["notificationId"]))
            if row is not None:
                await ctx.check_session()
                yield row
