from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from domain.ids import next_id
from domain.media.models import MediaKind, MediaStatus
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('shutter', '0002_username_prefix_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Media',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('owner_id', fields.BigIntField(db_index=True)),
                ('kind', fields.CharEnumField(description='IMAGE: IMAGE\nVIDEO: VIDEO', enum_type=MediaKind, max_length=5)),
                ('status', fields.CharEnumField(default=MediaStatus.PENDING, description='PENDING: PENDING\nPROCESSING: PROCESSING\nREADY: READY\nFAILED: FAILED', enum_type=MediaStatus, max_length=10)),
                ('failure_reason', fields.CharField(null=True, max_length=200)),
                ('declared_type', fields.CharField(max_length=100)),
                ('declared_size', fields.BigIntField()),
                ('content_type', fields.CharField(null=True, max_length=100)),
                ('original_key', fields.CharField(max_length=300)),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
                ('blurhash', fields.CharField(null=True, max_length=60)),
                ('duration_ms', fields.IntField(null=True)),
                ('variants', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('poster_key', fields.CharField(null=True, max_length=300)),
                ('playlist_key', fields.CharField(null=True, max_length=300)),
                ('uploaded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('processing_started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attached_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'media', 'app': 'shutter', 'indexes': [Index(fields=['status', 'updated_at'])], 'pk_attr': 'id', 'table_description': 'One uploaded photo or video and everything made from it.'},
            bases=['Model'],
        ),
    ]
