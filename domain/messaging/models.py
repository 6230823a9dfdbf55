from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class ThreadKind(StrEnum):
    DIRECT = "DIRECT"
    GROUP = "GROUP"


class MemberStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    REQUEST = "REQUEST"  # from someone the member does not follow: in their requests folder


class Thread(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    kind = fields.CharEnumField(ThreadKind, max_length=6)
    # "smaller id:larger id" for a 1:1 thread, so there is one per pair.
    direct_key = fields.CharField(max_length=41, null=True, unique=True)
    created_by = fields.BigIntField()
    last_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "threads"


class ThreadMember(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    thread_id = fields.BigIntField(db_index=True)
    user_id = fields.BigIntField()
    status = fields.CharEnumField(MemberStatus, max_length=8)
    # The thread's newest message id, copied here so a user's threads list by activity.
    last_activity_id = fields.BigIntField(default=0)
    last_read_message_id = fields.BigIntField(default=0)
    unread_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "thread_members"
        unique_together = (("thread_id", "user_id"),)
        indexes = (("user_id", "status", "last_activity_id"),)


class Message(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    thread_id = fields.BigIntField()
    sender_id = fields.BigIntField()
    text = fields.TextField(default="")
    media_id = fields.BigIntField(null=True)
    post_id = fields.BigIntField(null=True)
    client_id = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    hidden = fields.BooleanField(default=False, db_default=False)  # held: its sender's only
    story_id = fields.BigIntField(null=True)  # a reply to this story

    class Meta:
        table = "messages"
        unique_together = (("sender_id", "client_id"),)
        indexes = (("thread_id", "id"),)
