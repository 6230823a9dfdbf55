from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Fanout(Model):
    """The outbox of a committed post: written in the post's own transaction, so its fan-out
    can never be lost. The fan-out job records how far it got (`after_follow_id`: every
    follower up to this follow id has the post) and when it is done; a sweep enqueues it again
    when it stopped showing progress (its worker died, its job was never enqueued)."""

    post_id = fields.BigIntField(primary_key=True, generated=False)
    author_id = fields.BigIntField()
    after_follow_id = fields.BigIntField(default=0)
    attempts = fields.IntField(default=0)
    done_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()  # the last sign of progress

    class Meta:
        table = "fanouts"
        indexes = (("done_at", "updated_at"),)
