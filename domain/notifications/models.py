from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class NotificationKind(StrEnum):
    LIKE = "LIKE"
    COMMENT = "COMMENT"
    FOLLOW = "FOLLOW"
    FOLLOW_REQUEST = "FOLLOW_REQUEST"
    MENTION = "MENTION"


class Notification(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    user_id = fields.BigIntField()  # who is notified
    kind = fields.CharEnumField(NotificationKind, max_length=14)
    post_id = fields.BigIntField(null=True)
    comment_id = fields.BigIntField(null=True)
    story_id = fields.BigIntField(null=True)
    # Newest first, at most MAX_ACTORS; actor_count counts them all.
    actor_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    actor_count = fields.IntField(default=1)
    # Moves to a fresh id whenever a grouped entry gains an actor, so it sorts to the top.
    sort_id = fields.BigIntField()
    # One row per event (or per group): a job that runs twice finds it and changes nothing.
    event_key = fields.CharField(max_length=120, unique=True)
    read = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "notifications"
        indexes = (("user_id", "sort_id"),)
