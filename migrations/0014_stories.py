from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.ids import next_id
from domain.stories.models import Audience
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """Stories, their views, close friends and highlights; story replies and mentions."""

    dependencies = [('shutter', '0013_spam')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CloseFriend',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('owner_id', fields.BigIntField()),
                ('friend_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'close_friends', 'app': 'shutter', 'unique_together': (('owner_id', 'friend_id'),), 'indexes': [Index(fields=['friend_id', 'owner_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Highlight',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('owner_id', fields.BigIntField(db_index=True)),
                ('title', fields.CharField(max_length=40)),
                ('cover_media_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'highlights', 'app': 'shutter', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HighlightStory',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('highlight_id', fields.BigIntField()),
                ('story_id', fields.BigIntField()),
            ],
            options={'table': 'highlight_stories', 'app': 'shutter', 'unique_together': (('highlight_id', 'story_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Story',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('author_id', fields.BigIntField()),
                ('media_id', fields.BigIntField()),
                ('audience', fields.CharEnumField(description='EVERYONE: EVERYONE\nCLOSE_FRIENDS: CLOSE_FRIENDS', enum_type=Audience, max_length=16)),
                ('caption', fields.TextField(default='', unique=False)),
                ('mention_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('view_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stories', 'app': 'shutter', 'indexes': [Index(fields=['author_id', 'id'])], 'pk_attr': 'id', 'table_description': "A story; its row stays after it expires (the owner's archive, highlights)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoryView',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('story_id', fields.BigIntField()),
                ('viewer_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'story_views', 'app': 'shutter', 'unique_together': (('story_id', 'viewer_id'),), 'indexes': [Index(fields=['story_id', 'id'])], 'pk_attr': 'id', 'table_description': 'Someone saw a story: once per viewer per story.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Message',
            name='story_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Notification',
            name='story_id',
            field=fields.BigIntField(null=True),
        ),
    ]
