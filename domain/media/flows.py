"""Media flows: an upload is recorded, then its processing is enqueued; processing publishes
each status move (inside `service`, through the events port)."""

from __future__ import annotations

from datetime import datetime

from domain.media import service
from domain.media.models import Media
from domain.media.object_store import ObjectStore
from domain.media.store import MediaStore
from domain.ports import Ports


async def complete_upload(
    *, media_id: int, store: ObjectStore, ports: Ports, owner_id: int | None = None
) -> Media:
    """The bytes of a presigned (or local signed) upload are in storage: record it and have it
    processed. Idempotent: the job id names the attempt."""
    media = await service.mark_uploaded(media_id=media_id, store=store, owner_id=owner_id)
    await ports.jobs.process_media(media_id=media.id, attempt=media.attempts)
    return media


async def upload(
    *, owner_id: int, data: bytes, declared_type: str, store: ObjectStore, ports: Ports
) -> Media:
    """Bytes sent through the API (GraphQL multipart): stored, recorded, then processed."""
    media = await service.store_upload(
        owner_id=owner_id, data=data, declared_type=declared_type, store=store
    )
    await ports.jobs.process_media(media_id=media.id, attempt=media.attempts)
    return media


async def sweep(
    *, store: ObjectStore, media_store: MediaStore, ports: Ports, now: datetime | None = None
) -> int:
    """Re-enqueue media that a lost job or a crashed worker left behind; fail hopeless ones.
    Returns how many were enqueued again."""
    retry = await service.sweep(store=store, events=ports.events, media_store=media_store, now=now)
    for media_id in retry:
        media = await Media.get(id=media_id)
        await ports.jobs.process_media(media_id=media_id, attempt=media.attempts)
    return len(retry)
