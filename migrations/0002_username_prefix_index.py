from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Username prefix search (`LIKE 'ab%'`) needs an index in byte order, whatever the
    database's collation is."""

    dependencies = [("shutter", "0001_initial")]

    operations = [
        ops.RunSQL(
            "CREATE INDEX users_username_prefix ON users (username text_pattern_ops)",
            reverse_sql="DROP INDEX users_username_prefix",
        ),
    ]
