from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('shutter', '0008_media_heartbeat')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Fanout',
            fields=[
                ('post_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('author_id', fields.BigIntField()),
                ('after_follow_id', fields.BigIntField(default=0)),
                ('attempts', fields.IntField(default=0)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'fanouts', 'app': 'shutter', 'indexes': [Index(fields=['done_at', 'updated_at'])], 'pk_attr': 'post_id', 'table_description': "The outbox of a committed post: written in the post's own transaction, so its fan-out"},
            bases=['Model'],
        ),
    ]
