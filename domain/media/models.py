from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class MediaKind(StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


class MediaStatus(StrEnum):
    PENDING = "PENDING"  # waiting for the bytes
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"


class Media(Model):
    """One uploaded photo or video and everything made from it.

    The row is the job's state: the `media` worker moves it PENDING -> PROCESSING -> READY or
    FAILED, and the sweep cron re-checks rows that stay PROCESSING too long.
    """

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    owner_id = fields.BigIntField(db_index=True)
    kind = fields.CharEnumField(MediaKind, max_length=5)
    status = fields.CharEnumField(MediaStatus, max_length=10, default=MediaStatus.PENDING)
    failure_reason = fields.CharField(max_length=200, null=True)
    declared_type = fields.CharField(max_length=100)  # the Content-Type the client announced
    declared_size = fields.BigIntField()
    content_type = fields.CharField(max_length=100, null=True)  # what the bytes turned out to be
    original_key = fields.CharField(max_length=300)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    blurhash = fields.CharField(max_length=60, null=True)
    duration_ms = fields.IntField(null=True)
    # [{"key", "width", "height", "content_type"}]: image variants, or the video MP4 rendition.
    variants: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    poster_key = fields.CharField(max_length=300, null=True)
    playlist_key = fields.CharField(max_length=300, null=True)
    uploaded_at = fields.DatetimeField(null=True)  # when the bytes were seen in storage
    attempts = fields.IntField(default=0)
    processing_started_at = fields.DatetimeField(null=True)
    # Written every HEARTBEAT_SECONDS by the worker processing it: a PROCESSING row whose
    # heartbeat stopped was left by a worker that is gone.
    heartbeat_at = fields.DatetimeField(null=True)
    attached_at = fields.DatetimeField(null=True)  # set once used by a post, reel or story
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "media"
        indexes = (("status", "updated_at"),)
