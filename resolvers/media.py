"""Uploads: presigned PUTs, multipart uploads, confirmation; and who may see a media item."""

from __future__ import annotations

from domain.errors import DomainError, ErrorCode
from domain.media import flows, service
from domain.media.models import MediaKind
from domain.media.store import MediaView
from resolvers.context import Context
from resolvers.global_ids import id_input


async def _view(ctx: Context, media_id: int) -> MediaView:
    view = await ctx.loaders.media.load(media_id)
    assert view is not None, "a media row we just wrote must be readable"
    return view


async def create_upload(
    ctx: Context, *, kind: str, content_type: str, byte_size: int
) -> tuple[MediaView, str, dict[str, str]]:
    viewer = ctx.signed_in()
    async with ctx.spending("upload"):
        media, url, headers = await service.create_upload(
            owner_id=viewer,
            kind=MediaKind(kind),
            content_type=content_type,
            byte_size=byte_size,
            store=ctx.runtime.store,
        )
    return await _view(ctx, media.id), url, headers


async def complete_upload(ctx: Context, *, media_id: str) -> MediaView:
    viewer = ctx.signed_in()
    raw_id = id_input(media_id, "Media", field="mediaId")
    media = await flows.complete_upload(
        media_id=raw_id, store=ctx.runtime.store, ports=ctx.runtime.ports, owner_id=viewer
    )
    return await _view(ctx, media.id)


async def upload_file(ctx: Context, *, data: bytes, content_type: str) -> MediaView:
    viewer = ctx.signed_in()
    if not data:
        raise DomainError(ErrorCode.INVALID_INPUT, "The file is empty.", field="file")
    async with ctx.spending("upload"):
        media = await flows.upload(
            owner_id=viewer,
            data=data,
            declared_type=content_type,
            store=ctx.runtime.store,
            ports=ctx.runtime.ports,
        )
    return await _view(ctx, media.id)


async def own_media(ctx: Context, media_id: int) -> MediaView | None:
    """A media item by id is its owner's to see; others see it through the posts showing it."""
    view = await ctx.loaders.media.load(media_id)
    return view if view is not None and view.owner_id == ctx.viewer_id else None
