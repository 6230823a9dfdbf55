"""The read path for media rows (Redis first), and the storage keys of a media item."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiocache.base import BaseCache
from redis.asyncio import Redis

from domain.cache import RowCache
from domain.jsonb import decoded
from domain.media.models import MediaStatus
from domain.reads import Reads

MEDIA_COLUMNS = (
    "id, owner_id, kind, status, failure_reason, width, height, blurhash, duration_ms,"
    " variants, poster_key, playlist_key, attached_at, created_at"
)


# Renditions (public: served as they are, and by a CDN) and originals (private: as uploaded, with
# their EXIF and GPS position; read only by the pipeline) live under different prefixes, so that
# storage can make one public and not the other (see the README's "Media files").
PUBLIC_PREFIX = "m/"
ORIGINALS_PREFIX = "originals/"


def media_prefix(owner_id: int, media_id: int) -> str:
    """Where a media item's public renditions are."""
    return f"{PUBLIC_PREFIX}{owner_id}/{media_id}/"


def original_prefix(owner_id: int, media_id: int) -> str:
    return f"{ORIGINALS_PREFIX}{owner_id}/{media_id}/"


def original_key(owner_id: int, media_id: int) -> str:
    return original_prefix(owner_id, media_id) + "original"


def is_public_key(key: str) -> bool:
    """Whether a storage key may be served to anyone: a rendition, not an original (nor an
    original stored under the public prefix before originals moved out of it)."""
    return key.startswith(PUBLIC_PREFIX) and not key.endswith("/original")


@dataclass(frozen=True, slots=True)
class MediaView:
    id: int
    owner_id: int
    kind: str
    status: str
    failure_reason: str | None
    width: int | None
    height: int | None
    blurhash: str | None
    duration_ms: int | None
    variants: list[dict[str, Any]]
    poster_key: str | None
    playlist_key: str | None
    attached_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> MediaView:
        values = {name: row[name] for name in cls.__slots__}
        values["variants"] = decoded(values["variants"])
        return cls(**values)


class MediaStore(RowCache[MediaView]):
    def __init__(self, cache: BaseCache, redis: Redis, reads: Reads, *, ttl_seconds: int) -> None:
        super().__init__(
            cache,
            redis,
            reads,
            kind="media",
            view=MediaView,
            select_sql=f"/* media.by_ids */ SELECT {MEDIA_COLUMNS} FROM media"
            " WHERE id = ANY($1::bigint[])",
            from_row=MediaView.from_row,
            ttl_seconds=ttl_seconds,
        )

    def settled(self, ids: Iterable[int]) -> tuple[dict[int, MediaView], list[int]]:
        """Of these ids, the media this process last read READY and attached to a post, and
        the others. Such a row never changes again: it is only deleted, after its post, so a
        reader that has just read the post visible may take it from here without asking
        Redis (most of a feed page's reply bytes were these rows, read unchanged)."""
        known: dict[int, MediaView] = {}
        others = []
        for media_id in ids:
            view = self.last_read(media_id)
            if view is not None and view.status == MediaStatus.READY and view.attached_at:
                known[media_id] = view
            else:
                others.append(media_id)
        return known, others
