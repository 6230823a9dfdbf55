"""The schema the migrations build: what the models promise must hold in the database."""

from __future__ import annotations

from tortoise import connections


async def test_ids_come_from_the_application_not_a_sequence() -> None:
    # Tortoise's migration writer drops `generated=False`; a serial default on an id column
    # would quietly hand out small, non-time-ordered ids to any insert that forgets one.
    rows = await connections.get("default").execute_query_dict(
        "SELECT table_name, column_default FROM information_schema.columns"
        " WHERE table_schema = 'public' AND column_name = 'id'"
        " AND table_name NOT LIKE 'tortoise%'"
    )
    assert rows, "no tables found"
    assert [r["table_name"] for r in rows if r["column_default"]] == []


async def test_migrations_match_the_models() -> None:
    from tortoise import Tortoise
    from tortoise.migrations.autodetector import MigrationAutodetector

    from config.database import MODEL_MODULES

    apps = {"shutter": {"models": MODEL_MODULES, "migrations": "migrations"}}
    detector = MigrationAutodetector(Tortoise.apps, apps)
    assert await detector.changes() == [], "run `make migrations` and commit the result"


async def test_new_columns_migrate_a_database_that_has_rows(
    service_urls: tuple[str, str],
) -> None:
    """An upgrade meets existing rows: every column a later migration adds to a table that
    already had rows must have a database default (or be nullable), or the migration fails on
    them. Migrated to 0010 (before any such column), given a row in each table the later
    migrations widen, then to the newest."""
    import secrets
    import subprocess
    import sys

    import asyncpg

    from config.settings import PROJECT_ROOT
    from tests.conftest import _with_database

    def migrate_to(url: str, target: str | None) -> None:
        """In a process of its own: migrating re-initialises Tortoise's global connections,
        which this test process's runtime holds."""
        code = (
            "import asyncio, sys\n"
            "from tortoise.migrations.api.migrate import migrate\n"
            "from config.database import tortoise_config\n"
            "asyncio.run(migrate(config=tortoise_config(sys.argv[1], pool_size=1),"
            " target=sys.argv[2] or None))\n"
        )
        subprocess.run(  # noqa: S603 - our own code
            [sys.executable, "-c", code, url, target or ""],
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )

    database_url, _ = service_urls
    admin = await asyncpg.connect(database_url)
    name = f"shutter_upgrade_{secrets.token_hex(3)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(database_url, name)
    try:
        migrate_to(url, "shutter.0010_counter_recounts")
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO users (id, username, email, password_hash, full_name, bio,"
                " is_private, follower_count, following_count, post_count, created_at,"
                " updated_at) VALUES (1, 'old', 'old@x.test', 'x', '', '', false, 0, 0, 0,"
                " now(), now());"
                "INSERT INTO posts (id, author_id, kind, caption, media_ids, hashtags,"
                " mention_ids, like_count, comment_count, save_count, created_at)"
                " VALUES (2, 1, 'PHOTO', '', '[]', '[]', '[]', 0, 0, 0, now());"
                "INSERT INTO comments (id, post_id, author_id, text, like_count, reply_count,"
                " created_at) VALUES (3, 2, 1, 'hi', 0, 0, now());"
                "INSERT INTO threads (id, kind, created_by, created_at)"
                " VALUES (4, 'DIRECT', 1, now());"
                "INSERT INTO messages (id, thread_id, sender_id, text, created_at)"
                " VALUES (5, 4, 1, 'hi', now())"
            )
        finally:
            await conn.close()
        migrate_to(url, None)
        conn = await asyncpg.connect(url)
        try:
            user = await conn.fetchrow("SELECT status, token_epoch, is_moderator FROM users")
            post = await conn.fetchrow("SELECT hidden, view_count, play_count FROM posts")
            assert dict(user) == {"status": "ACTIVE", "token_epoch": 0, "is_moderator": False}
            assert dict(post) == {"hidden": False, "view_count": 0, "play_count": 0}
            assert await conn.fetchval("SELECT hidden FROM comments") is False
            assert await conn.fetchval("SELECT hidden FROM messages") is False
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
