"""Housekeeping for accounts, run by the `default` worker's cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise import connections

# Retired tokens are kept a while after expiry so that a reuse shortly after still revokes the
# family instead of looking like an unknown token.
RETENTION = timedelta(days=7)


async def purge_refresh_tokens(*, now: datetime | None = None) -> int:
    """Delete refresh tokens that expired more than RETENTION ago; idempotent."""
    cutoff = (now or datetime.now(UTC)) - RETENTION
    # RETURNING, because Tortoise reports affected rows only for SQL that starts with DELETE,
    # and ours starts with its label.
    rows = await connections.get("default").execute_query_dict(
        "/* users.purge_refresh_tokens */ DELETE FROM refresh_tokens WHERE expires_at < $1"
        " RETURNING id",
        [cutoff],
    )
    return len(rows)
