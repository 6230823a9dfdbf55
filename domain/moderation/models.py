"""Reports, the moderation cases they open, and the record of what moderators did."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class TargetKind(StrEnum):
    POST = "POST"
    COMMENT = "COMMENT"
    USER = "USER"
    MESSAGE = "MESSAGE"


class ReportReason(StrEnum):
    SPAM = "SPAM"
    HARASSMENT = "HARASSMENT"
    NUDITY = "NUDITY"
    VIOLENCE = "VIOLENCE"
    OTHER = "OTHER"


class Resolution(StrEnum):
    DISMISS = "DISMISS"
    REMOVE = "REMOVE"
    SUSPEND_AUTHOR = "SUSPEND_AUTHOR"


class Report(Model):
    """One person's report of one target: at most one per reporter per target."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    reporter_id = fields.BigIntField()
    target_kind = fields.CharEnumField(TargetKind, max_length=8)
    target_id = fields.BigIntField()
    reason = fields.CharEnumField(ReportReason, max_length=12)
    note = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reports"
        unique_together = (("reporter_id", "target_kind", "target_id"),)
        indexes = (("target_kind", "target_id"),)


class ModerationCase(Model):
    """A target waiting for (or given) a moderator's decision: opened by its first report or
    by the spam signals. `hidden` content is seen by its author only."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    target_kind = fields.CharEnumField(TargetKind, max_length=8)
    target_id = fields.BigIntField()
    author_id = fields.BigIntField()
    excerpt = fields.TextField(default="")  # the text as it was reported, for the reviewer
    report_count = fields.IntField(default=0)
    hidden = fields.BooleanField(default=False)
    held_for_spam = fields.BooleanField(default=False)
    spam_score = fields.FloatField(null=True)
    # Why it is here: the spam signals that fired, "reported by N people".
    reasons: fields.JSONField[list[str]] = fields.JSONField(default=list)
    open = fields.BooleanField(default=True)
    resolution = fields.CharEnumField(Resolution, max_length=16, null=True)
    # Newest activity (a report, a hold) as an id: the queue's order and cursor.
    activity_id = fields.BigIntField(default=next_id)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "moderation_cases"
        unique_together = (("target_kind", "target_id"),)
        indexes = (("open", "activity_id"),)


class ModerationAction(Model):
    """What a moderator (or the spam signals, moderator_id 0) did, when and why."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    case_id = fields.BigIntField(db_index=True)
    moderator_id = fields.BigIntField()
    action = fields.CharField(max_length=16)
    note = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "moderation_actions"


class SpamModel(Model):
    """A trained spam classifier (a pickled scikit-learn pipeline), newest version served."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    samples = fields.IntField()
    accuracy = fields.FloatField()  # on the newest fifth of the decisions, held out
    blob = fields.BinaryField()
    trained_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "spam_models"
