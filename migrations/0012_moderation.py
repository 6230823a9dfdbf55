from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.ids import next_id
from domain.moderation.models import ReportReason, Resolution, TargetKind
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    """Reports, moderation cases and the record of moderators' actions; content held for
    review (posts.hidden, comments.hidden)."""

    dependencies = [("shutter", "0011_account_status")]

    initial = False

    operations = [
        ops.CreateModel(
            name="ModerationAction",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        primary_key=True,
                        generated=False,
                        default=next_id,
                        unique=True,
                        db_index=True,
                    ),
                ),
                ("case_id", fields.BigIntField(db_index=True)),
                ("moderator_id", fields.BigIntField()),
                ("action", fields.CharField(max_length=16)),
                ("note", fields.CharField(default="", max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "moderation_actions",
                "app": "shutter",
                "pk_attr": "id",
                "table_description": "What a moderator (or the spam signals, moderator_id 0) did, when and why.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ModerationCase",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        primary_key=True,
                        generated=False,
                        default=next_id,
                        unique=True,
                        db_index=True,
                    ),
                ),
                (
                    "target_kind",
                    fields.CharEnumField(
                        description="POST: POST\nCOMMENT: COMMENT\nUSER: USER\nMESSAGE: MESSAGE",
                        enum_type=TargetKind,
                        max_length=8,
                    ),
                ),
                ("target_id", fields.BigIntField()),
                ("author_id", fields.BigIntField()),
                ("excerpt", fields.TextField(default="", unique=False)),
                ("report_count", fields.IntField(default=0)),
                ("hidden", fields.BooleanField(default=False)),
                ("held_for_spam", fields.BooleanField(default=False)),
                ("spam_score", fields.FloatField(null=True)),
                ("reasons", fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ("open", fields.BooleanField(default=True)),
                (
                    "resolution",
                    fields.CharEnumField(
                        null=True,
                        description="DISMISS: DISMISS\nREMOVE: REMOVE\nSUSPEND_AUTHOR: SUSPEND_AUTHOR",
                        enum_type=Resolution,
                        max_length=16,
                    ),
                ),
                ("activity_id", fields.BigIntField(default=next_id)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "moderation_cases",
                "app": "shutter",
                "unique_together": (("target_kind", "target_id"),),
                "indexes": [Index(fields=["open", "activity_id"])],
                "pk_attr": "id",
                "table_description": "A target waiting for (or given) a moderator's decision: opened by its first report or",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Report",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        primary_key=True,
                        generated=False,
                        default=next_id,
                        unique=True,
                        db_index=True,
                    ),
                ),
                ("reporter_id", fields.BigIntField()),
                (
                    "target_kind",
                    fields.CharEnumField(
                        description="POST: POST\nCOMMENT: COMMENT\nUSER: USER\nMESSAGE: MESSAGE",
                        enum_type=TargetKind,
                        max_length=8,
                    ),
                ),
                ("target_id", fields.BigIntField()),
                (
                    "reason",
                    fields.CharEnumField(
                        description="SPAM: SPAM\nHARASSMENT: HARASSMENT\nNUDITY: NUDITY\nVIOLENCE: VIOLENCE\nOTHER: OTHER",
                        enum_type=ReportReason,
                        max_length=12,
                    ),
                ),
                ("note", fields.CharField(default="", max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "reports",
                "app": "shutter",
                "unique_together": (("reporter_id", "target_kind", "target_id"),),
                "indexes": [Index(fields=["target_kind", "target_id"])],
                "pk_attr": "id",
                "table_description": "One person's report of one target: at most one per reporter per target.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Comment",
            name="hidden",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name="Post",
            name="hidden",
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
