from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.ids import next_id
from domain.posts.models import PostKind
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('shutter', '0003_media')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Comment',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('post_id', fields.BigIntField()),
                ('author_id', fields.BigIntField()),
                ('reply_to_id', fields.BigIntField(null=True)),
                ('text', fields.TextField(unique=False)),
                ('like_count', fields.IntField(default=0)),
                ('reply_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'comments', 'app': 'shutter', 'indexes': [Index(fields=['post_id', 'reply_to_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CommentLike',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('comment_id', fields.BigIntField()),
                ('user_id', fields.BigIntField()),
            ],
            options={'table': 'comment_likes', 'app': 'shutter', 'unique_together': (('comment_id', 'user_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Hashtag',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('post_count', fields.IntField(default=0)),
            ],
            options={'table': 'hashtags', 'app': 'shutter', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Like',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('post_id', fields.BigIntField()),
                ('user_id', fields.BigIntField()),
            ],
            options={'table': 'likes', 'app': 'shutter', 'unique_together': (('post_id', 'user_id'),), 'indexes': [Index(fields=['user_id', 'post_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Post',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('author_id', fields.BigIntField()),
                ('kind', fields.CharEnumField(description='PHOTO: PHOTO\nCAROUSEL: CAROUSEL\nREEL: REEL', enum_type=PostKind, max_length=8)),
                ('caption', fields.TextField(default='', unique=False)),
                ('media_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('hashtags', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('mention_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('like_count', fields.IntField(default=0)),
                ('comment_count', fields.IntField(default=0)),
                ('save_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'posts', 'app': 'shutter', 'indexes': [Index(fields=['author_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostHashtag',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('hashtag_id', fields.BigIntField()),
                ('post_id', fields.BigIntField(db_index=True)),
            ],
            options={'table': 'post_hashtags', 'app': 'shutter', 'unique_together': (('hashtag_id', 'post_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostMention',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('post_id', fields.BigIntField(db_index=True)),
                ('user_id', fields.BigIntField()),
            ],
            options={'table': 'post_mentions', 'app': 'shutter', 'unique_together': (('user_id', 'post_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Save',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('post_id', fields.BigIntField(db_index=True)),
                ('user_id', fields.BigIntField()),
            ],
            options={'table': 'saves', 'app': 'shutter', 'unique_together': (('user_id', 'post_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='avatar_media_id',
            field=fields.BigIntField(null=True),
        ),
    ]
