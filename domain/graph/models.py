from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class FollowStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"


class Follow(Model):
    # A time-ordered id doubles as the keyset cursor of followers/following lists.
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    follower_id = fields.BigIntField()
    followee_id = fields.BigIntField()
    status = fields.CharEnumField(FollowStatus, max_length=8)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "follows"
        unique_together = (("follower_id", "followee_id"),)
        indexes = (("followee_id", "status", "id"), ("follower_id", "status", "id"))


class Block(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    blocker_id = fields.BigIntField()
    blocked_id = fields.BigIntField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "blocks"
        unique_together = (("blocker_id", "blocked_id"),)
