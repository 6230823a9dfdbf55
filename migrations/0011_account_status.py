from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.users.models import AccountStatus
from tortoise import fields


class Migration(migrations.Migration):
    """Account lifecycle: status (only ACTIVE accounts are readable), the token epoch that
    ends sessions at once, and the moderator role."""

    dependencies = [("shutter", "0010_counter_recounts")]

    initial = False

    operations = [
        ops.AddField(
            model_name="User",
            name="is_moderator",
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name="User",
            name="status",
            field=fields.CharEnumField(
                default=AccountStatus.ACTIVE, db_default=AccountStatus.ACTIVE,
                description="ACTIVE: ACTIVE\nDEACTIVATED: DEACTIVATED\nSUSPENDED: SUSPENDED\nDELETED: DELETED",
                enum_type=AccountStatus,
                max_length=12,
            ),
        ),
        ops.AddField(
            model_name="User",
            name="status_changed_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="User",
            name="token_epoch",
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
