from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.ids import next_id
from tortoise import fields


class Migration(migrations.Migration):
    """The spam classifier's models; messages held for review (messages.hidden)."""

    dependencies = [("shutter", "0012_moderation")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SpamModel",
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
                ("samples", fields.IntField()),
                ("accuracy", fields.FloatField()),
                ("blob", fields.BinaryField()),
                ("trained_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "spam_models",
                "app": "shutter",
                "pk_attr": "id",
                "table_description": "A trained spam classifier (a pickled scikit-learn pipeline), newest version served.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Message",
            name="hidden",
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
