from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.ids import next_id
from domain.notifications.models import NotificationKind
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('shutter', '0005_messaging')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='LIKE: LIKE\nCOMMENT: COMMENT\nFOLLOW: FOLLOW\nFOLLOW_REQUEST: FOLLOW_REQUEST\nMENTION: MENTION', enum_type=NotificationKind, max_length=14)),
                ('post_id', fields.BigIntField(null=True)),
                ('comment_id', fields.BigIntField(null=True)),
                ('actor_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('actor_count', fields.IntField(default=1)),
                ('sort_id', fields.BigIntField()),
                ('event_key', fields.CharField(unique=True, max_length=120)),
                ('read', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'notifications', 'app': 'shutter', 'indexes': [Index(fields=['user_id', 'sort_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
