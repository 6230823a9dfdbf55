from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.graph.models import FollowStatus
from domain.ids import next_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Block',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('blocker_id', fields.BigIntField()),
                ('blocked_id', fields.BigIntField(db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'blocks', 'app': 'shutter', 'unique_together': (('blocker_id', 'blocked_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Follow',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('follower_id', fields.BigIntField()),
                ('followee_id', fields.BigIntField()),
                ('status', fields.CharEnumField(description='ACTIVE: ACTIVE\nPENDING: PENDING', enum_type=FollowStatus, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'follows', 'app': 'shutter', 'unique_together': (('follower_id', 'followee_id'),), 'indexes': [Index(fields=['followee_id', 'status', 'id']), Index(fields=['follower_id', 'status', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=30)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('password_hash', fields.CharField(max_length=255)),
                ('full_name', fields.CharField(default='', max_length=64)),
                ('bio', fields.CharField(default='', max_length=150)),
                ('is_private', fields.BooleanField(default=False)),
                ('follower_count', fields.IntField(default=0)),
                ('following_count', fields.IntField(default=0)),
                ('post_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'users', 'app': 'shutter', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefreshToken',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('shutter.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('family_id', fields.BigIntField(db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'refresh_tokens', 'app': 'shutter', 'pk_attr': 'id', 'table_description': 'One refresh token of a rotation family; only its SHA-256 is stored.'},
            bases=['Model'],
        ),
    ]
