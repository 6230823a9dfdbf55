from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.ids import next_id
from domain.messaging.models import MemberStatus, ThreadKind
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('shutter', '0004_posts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('thread_id', fields.BigIntField()),
                ('sender_id', fields.BigIntField()),
                ('text', fields.TextField(default='', unique=False)),
                ('media_id', fields.BigIntField(null=True)),
                ('post_id', fields.BigIntField(null=True)),
                ('client_id', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'messages', 'app': 'shutter', 'unique_together': (('sender_id', 'client_id'),), 'indexes': [Index(fields=['thread_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Thread',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='DIRECT: DIRECT\nGROUP: GROUP', enum_type=ThreadKind, max_length=6)),
                ('direct_key', fields.CharField(null=True, unique=True, max_length=41)),
                ('created_by', fields.BigIntField()),
                ('last_message_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'threads', 'app': 'shutter', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ThreadMember',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('thread_id', fields.BigIntField(db_index=True)),
                ('user_id', fields.BigIntField()),
                ('status', fields.CharEnumField(description='ACCEPTED: ACCEPTED\nREQUEST: REQUEST', enum_type=MemberStatus, max_length=8)),
                ('last_activity_id', fields.BigIntField(default=0)),
                ('last_read_message_id', fields.BigIntField(default=0)),
                ('unread_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'thread_members', 'app': 'shutter', 'unique_together': (('thread_id', 'user_id'),), 'indexes': [Index(fields=['user_id', 'status', 'last_activity_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
