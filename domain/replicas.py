"""Reads that may be a moment stale, from a Postgres read replica (DATABASE_REPLICA_URLS).

Profiles, posts, comments, media and stories read by id (the row caches' misses), the feed's
fall-through to Postgres, and explore's candidates go to a replica when three things hold:

- the request may read stale rows: a GraphQL query (never a mutation, a subscription or a
  job: those read the primary), whose viewer has not written lately (`stale_reads_allowed`);
- a replica is healthy: every API process checks each replica every CHECK_SECONDS (its replay lag,
  `now() - pg_last_xact_replay_timestamp()`, or 0 when it has replayed all it received) and uses
  only those within `max_lag_seconds`; one that does not answer is skipped until it does;
- the read on it works: a replica that fails mid-read is marked down and the read goes to the
  primary at once, so a replica going away never fails a request.

Read-your-writes is a stickiness window per viewer, kept in Redis so that every API process
knows it (`rw:{viewer}`, written after each of the viewer's mutations): for `sticky_seconds`
after a write, all of the viewer's reads go to the primary. The window is the lag bound plus a
check interval and a second, so by the time it ends every replica still in use has replayed
the write (a WAL position per write would be exact, but would cost a round trip to a replica
per request to compare it). Rows read from a replica are cached only for `sticky_seconds`,
and marked: a read that must see the primary (a viewer within their window, a job) passes
them by and reads the primary (domain/cache), so the shared row caches keep read-your-writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from redis.asyncio import Redis
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import DBConnectionError, OperationalError

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
LAG_SQL = (
    "/* replicas.lag */ SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
    " THEN 0 ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)"
    " END AS lag"
)
# What a replica that went away looks like mid-read.
_GONE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    DBConnectionError,
    OperationalError,
    ConnectionError,
    OSError,
    TimeoutError,
)

_stale_ok: contextvars.ContextVar[bool] = contextvars.ContextVar("stale_reads", default=False)


class Replicas:
    """The process's read replicas (a client each, by name) and which are usable now."""

    def __init__(
        self,
        clients: Mapping[str, BaseDBAsyncClient],
        *,
        max_lag_seconds: float,
        sticky_seconds: float,
    ) -> None:
        self.clients = dict(clients)
        self.names = list(clients)
        self.max_lag_seconds = max_lag_seconds
        self.sticky_seconds = sticky_seconds
        self._usable: list[str] = []
        self._lag: dict[str, float | None] = dict.fromkeys(self.names)
        self.reads: dict[str, int] = dict.fromkeys(self.names, 0)  # served by each, so far
        self._watcher: asyncio.Task[None] | None = None

    @property
    def usable(self) -> list[str]:
        return list(self._usable)

    @property
    def lags(self) -> dict[str, float | None]:
        """Each replica's lag in seconds at the last check (None: it did not answer)."""
        return dict(self._lag)

    def pick(self) -> str | None:
        return random.choice(self._usable) if self._usable else None

    def mark_down(self, name: str) -> None:
        if name in self._usable:
            self._usable.remove(name)
            self._lag[name] = None
            log.warning("replica %s failed a read; reads go elsewhere until it answers", name)

    async def check(self) -> None:
        """Look at every replica's lag once; use those within the bound."""
        usable = []
        for name in self.names:
            try:
                async with asyncio.timeout(self.max_lag_seconds + 1):
                    rows = await self.clients[name].execute_query_dict(LAG_SQL)
                lag: float | None = float(rows[0]["lag"])
            except Exception:
                lag = None
            fine = lag is not None and lag <= self.max_lag_seconds
            if fine != (name in self._usable):  # one line when a replica comes or goes
                state = "down" if lag is None else f"{lag:.2f} s behind"
                log.warning("replica %s %s: %s", name, "in use" if fine else "skipped", state)
            self._lag[name] = lag
            if fine:
                usable.append(name)
        self._usable = usable

    def watch(self) -> None:
        if self.names and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="replica-watch")

    async def _watch(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(CHECK_SECONDS)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.close()


_replicas = Replicas({}, max_lag_seconds=0, sticky_seconds=0)


def install(replicas: Replicas) -> None:
    global _replicas
    _replicas = replicas


def installed() -> Replicas:
    return _replicas


def allow_stale_reads(allowed: bool) -> contextvars.Token[bool]:
    """Say for the rest of this task (and the tasks it starts) whether its reads may be a
    moment stale; the request's GraphQL execution says so (see schema's ReadRouting)."""
    return _stale_ok.set(allowed)


def forget_stale_reads(token: contextvars.Token[bool]) -> None:
    _stale_ok.reset(token)


def stale_reads_allowed() -> bool:
    return _stale_ok.get()


async def fetch(sql: str, args: Sequence[Any] = ()) -> tuple[list[dict[str, Any]], bool]:
    """Rows of a read that may be a moment stale, and whether a replica gave them: from a
    usable replica when this task may read stale rows, else (or should it fail) the primary."""
    if _stale_ok.get():
        name = _replicas.pick()
        if name is not None:
            try:
                found = await _replicas.clients[name].execute_query_dict(sql, list(args))
                _replicas.reads[name] += 1
                return found, True
            except _GONE:
                _replicas.mark_down(name)
    return await connections.get("default").execute_query_dict(sql, list(args)), False


async def rows(sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """`fetch`'s rows alone."""
    found, _ = await fetch(sql, args)
    return found


def _sticky_key(viewer_id: int) -> str:
    return f"rw:{{{viewer_id}}}"


async def wrote(redis: Redis, viewer_id: int) -> None:
    """The viewer has just written: their reads go to the primary for the sticky window."""
    if _replicas.names:
        await redis.set(_sticky_key(viewer_id), "1", px=int(_replicas.sticky_seconds * 1000))


async def wrote_lately(redis: Redis, viewer_id: int) -> bool:
    if not _replicas.names:
        return False
    return bool(await redis.exists(_sticky_key(viewer_id)))
