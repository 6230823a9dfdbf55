from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('shutter', '0009_fanout_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CounterRecount',
            fields=[
                ('counter', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
            ],
            options={'table': 'counter_recounts', 'app': 'shutter', 'pk_attr': 'counter', 'table_description': 'A counter to recount from its rows: its increment failed after its row was committed'},
            bases=['Model'],
        ),
    ]
