"""What people watch: the view log the ranking will learn from, and what they want no more."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class Surface(StrEnum):
    FEED = "FEED"
    REELS = "REELS"
    EXPLORE = "EXPLORE"
    PROFILE = "PROFILE"
    STORY = "STORY"


class ViewEvent(Model):
    """One impression (and how much of it was watched): append-only, kept RETENTION_DAYS."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    user_id = fields.BigIntField()
    post_id = fields.BigIntField()
    surface = fields.CharEnumField(Surface, max_length=8)
    watched_ms = fields.IntField()
    completed = fields.BooleanField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "view_events"
        indexes = (("user_id", "post_id"), ("created_at",))


class ViewBatch(Model):
    """A client's batch of events, by its own id: a retried batch is counted once."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    user_id = fields.BigIntField()
    batch_id = fields.CharField(max_length=64)
    accepted = fields.IntField()
    rejected = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "view_batches"
        unique_together = (("user_id", "batch_id"),)


class PostViewTotal(Model):
    """Exact view and play counts per post (what the live Redis counters are recounted from;
    the events themselves are not kept forever)."""

    post_id = fields.BigIntField(primary_key=True, generated=False)
    views = fields.BigIntField(default=0)
    plays = fields.BigIntField(default=0)

    class Meta:
        table = "post_view_totals"


class NotInterested(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    user_id = fields.BigIntField()
    post_id = fields.BigIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "not_interested"
        unique_together = (("user_id", "post_id"),)
