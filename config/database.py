"""Tortoise ORM configuration, and statement counting / slow-query logging for every query.

`TORTOISE_ORM` is what the `tortoise` CLI reads (`pyproject.toml [tool.tortoise]`), so
`tortoise makemigrations` works from the repository root; the running services build the same
config through `tortoise_config(url)`.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tortoise.backends.asyncpg.client import AsyncpgDBClient

log = logging.getLogger("shutter.sql")

MODEL_MODULES = [
    "domain.ids",
    "domain.users.models",
    "domain.graph.models",
    "domain.media.models",
    "domain.posts.models",
    "domain.feed.models",
    "domain.messaging.models",
    "domain.notifications.models",
    "domain.moderation.models",
    "domain.stories.models",
    "domain.reels.models",
]
SLOW_QUERY_SECONDS = 0.2


def tortoise_config(
    database_url: str,
    *,
    pool_size: int = 10,
    timeout_ms: int | None = None,
    pgbouncer: bool = False,
) -> dict[str, Any]:
    """Tortoise's config for this URL (the connection `default`); with `timeout_ms`, a
    connect and every statement that take longer fail (asyncpg's timeout and command_timeout:
    the statement is cancelled). With `pgbouncer`, asyncpg keeps no prepared statements (a
    pooler in transaction mode hands each transaction a different server connection)."""
    return {
        "connections": {"default": _connection(database_url, pool_size, timeout_ms, pgbouncer)},
        "apps": {
            "shutter": {
                "models": MODEL_MODULES,
                "migrations": "migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def replica_client(
    name: str, url: str, *, pool_size: int, timeout_ms: int | None, pgbouncer: bool
) -> AsyncpgDBClient:
    """A client of a read replica, beside Tortoise's own connections (so that Tortoise's
    transactions, which take the one connection there is, never reach a replica); it connects
    on first use, and its statements are counted as every other's."""
    credentials = _connection(url, pool_size, timeout_ms, pgbouncer)["credentials"]
    return AsyncpgDBClient(connection_name=name, **credentials)


async def _keep_session(_connection: object) -> None:
    """What asyncpg's pool does to a connection handed back, besides rolling back a transaction
    left open (which it always does): nothing. Its default sends `pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL` on every release, a round trip per statement run outside
    a transaction (six for a like); Shutter keeps no session state (no session advisory locks,
    cursors, LISTEN or SET) for it to undo."""


def _connection(
    database_url: str, pool_size: int, timeout_ms: int | None, pgbouncer: bool
) -> dict[str, Any]:
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    # asyncpg reads a Unix socket directory from ?host=/path, as the embedded server uses.
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    credentials = {
        "host": host,
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "database": parts.path.lstrip("/"),
        "minsize": 1,
        "maxsize": pool_size,
        "reset": _keep_session,
    }
    if timeout_ms is not None:
        credentials["timeout"] = credentials["command_timeout"] = timeout_ms / 1000
    if pgbouncer:
        credentials["statement_cache_size"] = 0
    return {"engine": "tortoise.backends.asyncpg", "credentials": credentials}


# Read by `tortoise makemigrations`; only the model list matters there.
TORTOISE_ORM = tortoise_config(
    os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/shutter"
)


@dataclass
class StatementLog:
    """The statements one request ran; read by the benchmark and the N+1 tests."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


current_statements: contextvars.ContextVar[StatementLog | None] = contextvars.ContextVar(
    "current_statements", default=None
)


def _label(query: str) -> str:
    """The `/* label */` a storage call put in front of its SQL, else the query's start."""
    text = query.lstrip()
    if text.startswith("/*"):
        return text[2 : text.find("*/")].strip()
    return " ".join(text.split())[:80]


def _instrument(
    method: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    async def wrapper(self: AsyncpgDBClient, query: str, *args: Any, **kwargs: Any) -> Any:
        statements = current_statements.get()
        if statements is not None:
            statements.statements.append(_label(query))
        started = time.perf_counter()
        try:
            return await method(self, query, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            if elapsed > SLOW_QUERY_SECONDS:
                log.warning("slow query %.0f ms: %s", elapsed * 1000, _label(query))

    wrapper._shutter_counted = True  # type: ignore[attr-defined]
    return wrapper


def install_statement_counter() -> None:
    """Wrap Tortoise's asyncpg client once per process (the transaction client inherits it)."""
    for name in ("execute_query", "execute_query_dict", "execute_insert", "execute_many"):
        method = getattr(AsyncpgDBClient, name)
        if not getattr(method, "_shutter_counted", False):
            setattr(AsyncpgDBClient, name, _instrument(method))


install_statement_counter()
