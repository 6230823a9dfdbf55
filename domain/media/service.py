"""Uploads and the processing of media, from first byte to READY or FAILED.

Jobs run at least once, so `process_media` is safe to run twice: it claims the row, writes its
outputs under fixed keys (a rerun overwrites them) and finishes by setting a final status; a
row already READY or FAILED is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.expressions import Q

from domain.errors import DomainError, ErrorCode
from domain.media import images, video
from domain.media.errors import MediaRejected
from domain.media.models import Media, MediaKind, MediaStatus
from domain.media.object_store import ObjectStore
from domain.media.sniff import IMAGE_TYPES, VIDEO_TYPES, sniff
from domain.media.store import MediaStore, media_prefix, original_key, original_prefix
from domain.realtime.events import Events

log = logging.getLogger(__name__)

UPLOAD_URL_TTL_SECONDS = 3600
MAX_ATTEMPTS = 3
# A worker beats in the row it processes this often; a row whose beat is older than
# ABANDONED_AFTER was left by a worker that died (killed, out of memory, its machine gone).
HEARTBEAT_SECONDS = 10
ABANDONED_AFTER = timedelta(seconds=45)
MAX_BYTES = {MediaKind.IMAGE: images.MAX_BYTES, MediaKind.VIDEO: video.MAX_BYTES}


def _check_declared(kind: MediaKind, content_type: str, byte_size: int) -> None:
    allowed = IMAGE_TYPES if kind is MediaKind.IMAGE else VIDEO_TYPES
    if content_type not in allowed:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"{kind.value.title()} uploads take {', '.join(sorted(allowed))}.",
            field="contentType",
        )
    limit = MAX_BYTES[kind]
    if not 0 < byte_size <= limit:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"byteSize must be between 1 and {limit} ({limit // (1024 * 1024)} MB).",
            field="byteSize",
        )


async def create_upload(
    *, owner_id: int, kind: MediaKind, content_type: str, byte_size: int, store: ObjectStore
) -> tuple[Media, str, dict[str, str]]:
    """A PENDING media row and a presigned PUT URL for its bytes."""
    content_type = content_type.strip().lower()
    _check_declared(kind, content_type, byte_size)
    media = Media(
        owner_id=owner_id,
        kind=kind,
        declared_type=content_type,
        declared_size=byte_size,
        original_key="",
    )
    media.original_key = original_key(owner_id, media.id)
    await media.save()
    url, headers = await store.presigned_put(
        media.original_key,
        content_type=content_type,
        byte_size=byte_size,
        expires_in=UPLOAD_URL_TTL_SECONDS,
    )
    return media, url, headers


async def store_upload(
    *, owner_id: int, data: bytes, declared_type: str, store: ObjectStore
) -> Media:
    """The multipart path: the bytes are here already, so they are checked before anything is
    written. Returns a PENDING row whose original is stored."""
    declared_type = declared_type.strip().lower()
    actual = sniff(data[:16])
    if actual is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "The file is not a supported image or video.", field="file"
        )
    kind = MediaKind.IMAGE if actual in IMAGE_TYPES else MediaKind.VIDEO
    if (
        declared_type
        and declared_type != "application/octet-stream"
        and (
            (kind is MediaKind.IMAGE and declared_type != actual)
            or (kind is MediaKind.VIDEO and declared_type not in VIDEO_TYPES)
        )
    ):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"The file is {actual}, not {declared_type} as declared.",
            field="file",
        )
    _check_declared(kind, actual, len(data))
    if kind is MediaKind.IMAGE:
        try:
            await asyncio.to_thread(images.check_image, data)
        except MediaRejected as rejected:
            raise DomainError(ErrorCode.INVALID_INPUT, str(rejected), field="file") from None
    media = Media(
        owner_id=owner_id,
        kind=kind,
        declared_type=actual,
        declared_size=len(data),
        original_key="",
        uploaded_at=datetime.now(UTC),
    )
    media.original_key = original_key(owner_id, media.id)
    await store.put(media.original_key, data, actual)
    try:
        await media.save()
    except BaseException:
        await delete_files(store, owner_id=owner_id, media_id=media.id)
        raise
    return media


async def delete_files(store: ObjectStore, *, owner_id: int, media_id: int) -> None:
    """Every file of a media item: its renditions and its original (also where originals were
    kept before they left the public prefix)."""
    await store.delete_prefix(media_prefix(owner_id, media_id))
    await store.delete_prefix(original_prefix(owner_id, media_id))


async def mark_uploaded(*, media_id: int, store: ObjectStore, owner_id: int | None = None) -> Media:
    """The bytes of a presigned upload are (said to be) in storage: check, then record it.

    Raises DomainError when there is nothing to process. Idempotent: a second call for an
    uploaded row returns it unchanged.
    """
    media = await Media.get_or_none(id=media_id)
    if media is None or (owner_id is not None and media.owner_id != owner_id):
        raise DomainError(ErrorCode.NOT_FOUND, "No media with this id.", field="mediaId")
    if media.uploaded_at is not None:
        return media
    size = await store.size(media.original_key)
    if size is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "Nothing was uploaded yet: PUT the bytes to uploadUrl first.",
            field="mediaId",
        )
    media.uploaded_at = datetime.now(UTC)
    await Media.filter(id=media.id, uploaded_at=None).update(uploaded_at=media.uploaded_at)
    return media


async def _finish(media: Media, *, events: Events, media_store: MediaStore, **changes: Any) -> None:
    await Media.filter(id=media.id).update(**changes)
    await media_store.invalidate(media.id)
    await events.media_status(media_id=media.id, status=str(changes["status"]))


async def fail(
    media: Media, reason: str, *, store: ObjectStore, events: Events, media_store: MediaStore
) -> None:
    """FAILED with a reason, and nothing of it left in storage."""
    await delete_files(store, owner_id=media.owner_id, media_id=media.id)
    await _finish(
        media,
        events=events,
        media_store=media_store,
        status=MediaStatus.FAILED,
        failure_reason=reason[:200],
    )


async def _claim(media_id: int) -> Media | None:
    """Move the row to PROCESSING (counting the attempt) unless it is already final."""
    rows = await connections.get("default").execute_query_dict(
        "/* media.claim */ UPDATE media SET status = 'PROCESSING', attempts = attempts + 1,"
        " processing_started_at = now(), heartbeat_at = now(), updated_at = now()"
        " WHERE id = $1 AND status IN ('PENDING', 'PROCESSING') RETURNING id",
        [media_id],
    )
    return await Media.get(id=media_id) if rows else None


async def process_media(
    *,
    media_id: int,
    store: ObjectStore,
    events: Events,
    media_store: MediaStore,
    video_preset: str = video.DEFAULT_PRESET,
    work_dir: Path | None = None,
) -> MediaStatus | None:
    """Turn an uploaded original into its web renditions. Returns the final status, or None
    when the row was already final (a duplicate delivery). Video work happens in a temporary
    folder under `work_dir` (see `clean_work_dirs`)."""
    media = await _claim(media_id)
    if media is None:
        return None
    beating = asyncio.create_task(_beat(media.id))
    try:
        return await _process(
            media,
            store=store,
            events=events,
            media_store=media_store,
            video_preset=video_preset,
            work_dir=work_dir,
        )
    finally:
        beating.cancel()


async def _beat(media_id: int) -> None:
    """Say, in the row, that this worker is still at it."""
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        with contextlib.suppress(Exception):  # a missed beat is made up by the next
            await connections.get("default").execute_query(
                "/* media.heartbeat */ UPDATE media SET heartbeat_at = now()"
                " WHERE id = $1 AND status = 'PROCESSING'",
                [media_id],
            )


def clean_work_dirs(work_root: Path) -> Path:
    """This process's folder for temporary media work, under `work_root`; the folders of
    processes that are gone (a worker killed mid-transcode leaves its files) are removed."""
    work_root.mkdir(parents=True, exist_ok=True)
    for folder in work_root.iterdir():
        if folder.name.isdigit() and not _alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    own = work_root / str(os.getpid())
    own.mkdir(exist_ok=True)
    return own


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _process(
    media: Media,
    *,
    store: ObjectStore,
    events: Events,
    media_store: MediaStore,
    video_preset: str,
    work_dir: Path | None,
) -> MediaStatus:
    await media_store.invalidate(media.id)
    await events.media_status(media_id=media.id, status=MediaStatus.PROCESSING.value)
    size = await store.size(media.original_key)
    if size is None:
        await fail(
            media, "The upload never arrived.", store=store, events=events, media_store=media_store
        )
        return MediaStatus.FAILED
    try:
        if size > MAX_BYTES[media.kind]:
            limit_mb = MAX_BYTES[media.kind] // (1024 * 1024)
            raise MediaRejected(f"The file is larger than {limit_mb} MB.")
        if media.kind is MediaKind.IMAGE:
            changes = await _process_image(media, store)
        else:
            changes = await _process_video(media, store, preset=video_preset, work_dir=work_dir)
    except MediaRejected as rejected:
        await fail(media, str(rejected), store=store, events=events, media_store=media_store)
        return MediaStatus.FAILED
    await _finish(
        media,
        events=events,
        media_store=media_store,
        status=MediaStatus.READY,
        failure_reason=None,
        **changes,
    )
    return MediaStatus.READY


def _check_sniffed(media: Media, head: bytes) -> str:
    actual = sniff(head)
    family = IMAGE_TYPES if media.kind is MediaKind.IMAGE else VIDEO_TYPES
    if actual not in family:
        noun = "an image" if media.kind is MediaKind.IMAGE else "a video"
        raise MediaRejected(f"The file is not {noun} of a supported type.")
    if media.kind is MediaKind.IMAGE and actual != media.declared_type:
        raise MediaRejected(f"The file is {actual}, not {media.declared_type} as declared.")
    return actual


async def _process_image(media: Media, store: ObjectStore) -> dict[str, Any]:
    data = await store.get(media.original_key)
    content_type = _check_sniffed(media, data[:16])
    result = await asyncio.to_thread(images.process_image, data)
    prefix = media_prefix(media.owner_id, media.id)
    variants = []
    for variant in result.variants:
        ext = "jpg" if variant.content_type == "image/jpeg" else "webp"
        key = f"{prefix}w{variant.width}.{ext}"
        await store.put(key, variant.data, variant.content_type)
        variants.append(
            {
                "key": key,
                "width": variant.width,
                "height": variant.height,
                "content_type": variant.content_type,
            }
        )
    return {
        "content_type": content_type,
        "width": result.width,
        "height": result.height,
        "blurhash": result.blurhash,
        "variants": variants,
    }


async def _process_video(
    media: Media, store: ObjectStore, *, preset: str, work_dir: Path | None
) -> dict[str, Any]:
    prefix = media_prefix(media.owner_id, media.id)
    with tempfile.TemporaryDirectory(prefix=f"video-{media.id}-", dir=work_dir) as tmp:
        source = Path(tmp) / "original"
        await store.download(media.original_key, source)
        with source.open("rb") as head:
            content_type = _check_sniffed(media, head.read(16))
        out_dir = Path(tmp) / "out"
        result = await video.transcode_in_subprocess(source, out_dir, preset=preset)
        for path in sorted(out_dir.rglob("*")):
            if path.is_file():
                relative = path.relative_to(out_dir).as_posix()
                await store.put_file(prefix + relative, path, video.content_type_of(path))
    return {
        "content_type": content_type,
        "width": result["width"],
        "height": result["height"],
        "duration_ms": result["duration_ms"],
        "blurhash": result["blurhash"],
        "variants": [
            {**rendition, "key": prefix + rendition["key"]} for rendition in result["renditions"]
        ],
        "poster_key": prefix + result["poster"],
        "playlist_key": prefix + result["playlist"],
    }


async def sweep(
    *, store: ObjectStore, events: Events, media_store: MediaStore, now: datetime | None = None
) -> list[int]:
    """Find media that fell through the cracks; returns the ids to (re-)enqueue.

    - uploaded but never picked up (a lost enqueue): enqueue again;
    - PROCESSING with no heartbeat for ABANDONED_AFTER (its worker died): enqueue again, or
      FAILED after MAX_ATTEMPTS;
    - PENDING with no bytes long after the upload URL expired: FAILED.
    """
    now = now or datetime.now(UTC)
    retry: list[int] = []
    stale_pending = await Media.filter(
        status=MediaStatus.PENDING,
        uploaded_at__not_isnull=True,
        uploaded_at__lt=now - timedelta(minutes=2),
    ).values_list("id", flat=True)
    retry.extend(int(i) for i in stale_pending)  # type: ignore[call-overload]
    silent_since = now - ABANDONED_AFTER
    for media in await Media.filter(
        Q(heartbeat_at__lt=silent_since)
        | Q(heartbeat_at__isnull=True, processing_started_at__lt=silent_since),
        status=MediaStatus.PROCESSING,
    ):
        if media.attempts >= MAX_ATTEMPTS:
            await fail(
                media,
                f"Processing failed {media.attempts} times.",
                store=store,
                events=events,
                media_store=media_store,
            )
        else:
            retry.append(media.id)
    for media in await Media.filter(
        status=MediaStatus.PENDING,
        uploaded_at__isnull=True,
        created_at__lt=now - timedelta(seconds=UPLOAD_URL_TTL_SECONDS) - timedelta(minutes=10),
    ):
        if await store.size(media.original_key) is not None:
            await Media.filter(id=media.id).update(uploaded_at=now)
            retry.append(media.id)
        else:
            await fail(
                media,
                "The upload never arrived.",
                store=store,
                events=events,
                media_store=media_store,
            )
    return retry


async def purge(*, media_ids: list[int], store: ObjectStore, media_store: MediaStore) -> int:
    """Delete media files and rows (their post is gone); safe to run twice."""
    purged = 0
    for media in await Media.filter(id__in=media_ids):
        await delete_files(store, owner_id=media.owner_id, media_id=media.id)
        await media.delete()
        purged += 1
    await media_store.invalidate(*media_ids)
    return purged
