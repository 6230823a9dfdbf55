from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.ids import next_id
from domain.reels.models import Surface
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    """The view log, its batches and per-post totals, not-interested marks; view and play
    counts on posts."""

    dependencies = [('shutter', '0014_stories')]

    initial = False

    operations = [
        ops.CreateModel(
            name='NotInterested',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('post_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'not_interested', 'app': 'shutter', 'unique_together': (('user_id', 'post_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostViewTotal',
            fields=[
                ('post_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('views', fields.BigIntField(default=0)),
                ('plays', fields.BigIntField(default=0)),
            ],
            options={'table': 'post_view_totals', 'app': 'shutter', 'pk_attr': 'post_id', 'table_description': 'Exact view and play counts per post (what the live Redis counters are recounted from;'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ViewBatch',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('batch_id', fields.CharField(max_length=64)),
                ('accepted', fields.IntField()),
                ('rejected', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'view_batches', 'app': 'shutter', 'unique_together': (('user_id', 'batch_id'),), 'pk_attr': 'id', 'table_description': "A client's batch of events, by its own id: a retried batch is counted once."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ViewEvent',
            fields=[
                ('id', fields.BigIntField(primary_key=True, generated=False, default=next_id, unique=True, db_index=True)),
                ('user_id', fields.BigIntField()),
                ('post_id', fields.BigIntField()),
                ('surface', fields.CharEnumField(description='FEED: FEED\nREELS: REELS\nEXPLORE: EXPLORE\nPROFILE: PROFILE\nSTORY: STORY', enum_type=Surface, max_length=8)),
                ('watched_ms', fields.IntField()),
                ('completed', fields.BooleanField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'view_events', 'app': 'shutter', 'indexes': [Index(fields=['user_id', 'post_id']), Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': 'One impression (and how much of it was watched): append-only, kept RETENTION_DAYS.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Post',
            name='play_count',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Post',
            name='view_count',
            field=fields.BigIntField(default=0, db_default=0),
        ),
    ]
