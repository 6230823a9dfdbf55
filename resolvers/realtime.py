"""Subscriptions: each listens on its Redis channels through the process's one hub."""

from __future__ import annotations

from collections.abc import AsyncIterator

from domain.errors import ErrorCode
from domain.media.models import MediaStatus
from domain.media.store import MediaView
from domain.realtime.events import media_channel
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import id_argument

FINAL = {MediaStatus.READY.value, MediaStatus.FAILED.value}


async def media_processed(ctx: Context, media_id: str) -> AsyncIterator[MediaView]:
    """The media item each time its status moves, ending once READY or FAILED (at once, if it
    already is). Only its owner may listen."""
    viewer = ctx.require_viewer()
    raw_id = id_argument(media_id, "Media", argument="mediaId")
    media = ctx.runtime.media
    # Listen first, then read: a change between the two is not missed.
    async with ctx.runtime.hub.subscribe(media_channel(raw_id)) as events:
        view = await media.get(raw_id)
        if view is None or view.owner_id != viewer:
            raise ClientError("No media with this id.", code=ErrorCode.NOT_FOUND)
        if view.status in FINAL:
            yield view
            return
        while True:
            await events.get()
            fresh = await media.get(raw_id)
            if fresh is None:
                return
            await ctx.check_session()
            yield fresh
            if fresh.status in FINAL:
                return
