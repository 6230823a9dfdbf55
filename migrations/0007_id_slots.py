from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('shutter', '0006_notifications')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdSlot',
            fields=[
                ('slot', fields.IntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('holder', fields.CharField(max_length=120)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'id_slots', 'app': 'shutter', 'pk_attr': 'slot', 'table_description': "A generator slot leased to a process until `expires_at` (the database's clock)."},
            bases=['Model'],
        ),
    ]
