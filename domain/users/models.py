from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DEACTIVATED = "DEACTIVATED"  # by its owner; signing in within 30 days brings it back
    SUSPENDED = "SUSPENDED"  # by a moderator
    DELETED = "DELETED"  # anonymised at once; its content removed by a job


class User(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    # Stored lower-cased: usernames are unique without regard to case.
    username = fields.CharField(max_length=30, unique=True)
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255)
    full_name = fields.CharField(max_length=64, default="")
    bio = fields.CharField(max_length=150, default="")
    is_private = fields.BooleanField(default=False)
    avatar_media_id = fields.BigIntField(null=True)
    # Denormalised counts, kept in the same transaction as the rows they count, so that a
    # read never runs COUNT(*).
    follower_count = fields.IntField(default=0)
    following_count = fields.IntField(default=0)
    post_count = fields.IntField(default=0)
    # Only ACTIVE accounts are readable by anyone (domain/users/store.py reads no other).
    status = fields.CharEnumField(
        AccountStatus,
        max_length=12,
        default=AccountStatus.ACTIVE,
        db_default=AccountStatus.ACTIVE,
    )
    status_changed_at = fields.DatetimeField(null=True)
    # Access tokens carry the epoch they were issued in; raising it (a password change, a
    # deactivation, a suspension, a deletion) ends every token issued before, at once.
    token_epoch = fields.IntField(default=0, db_default=0)
    is_moderator = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"


class RefreshToken(Model):
    """One refresh token of a rotation family; only its SHA-256 is stored."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "shutter.User", related_name=False, on_delete=fields.CASCADE
    )
    family_id = fields.BigIntField(db_index=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "refresh_tokens"
