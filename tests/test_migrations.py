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
