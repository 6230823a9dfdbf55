"""Servers of a test's own, started from the machine's binaries on free loopback ports, to be
killed, frozen and restarted without touching the machine's own services."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port}") from None
            time.sleep(0.05)


class RedisServer:
    """A redis-server of the test's own (no persistence: a restart comes back empty, as a
    Redis without AOF does)."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("no redis-server binary on this machine")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(  # noqa: S603 - the machine's own redis-server
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """SIGKILL: gone at once, with everything it held."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing is answered."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.thaw()
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class RedisSentinel:
    """A Redis Sentinel of the test's own (redis-server --sentinel) watching `master` under
    `name`."""

    def __init__(self, folder: Path, master: RedisServer, *, name: str = "queue") -> None:
        self.binary = master.binary
        self.folder = folder
        self.master = master
        self.name = name
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.name}/{db}"

    def start(self) -> RedisSentinel:
        config = self.folder / f"sentinel-{self.port}.conf"  # Sentinel rewrites it
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.folder}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {self.name} 1000\n"
        )
        self.process = subprocess.Popen(  # noqa: S603 - the machine's own redis-server
            [self.binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class PostgresServer:
    """A PostgreSQL of the test's own: initdb'd into a folder the `postgres` user owns (initdb
    and pg_ctl refuse root), on a free port, trust auth, no fsync (nothing here must outlive
    the test). `stop()` is an immediate shutdown, as a crash is; `start()` brings it back."""

    def __init__(
        self, *, primary: PostgresServer | None = None, synchronous_commit: str = "off"
    ) -> None:
        """A new cluster, or with `primary`, a streaming replica of it (pg_basebackup -R).
        `synchronous_commit` is its setting (`remote_apply`: with a synchronous standby named,
        a commit returns once the standby has applied it)."""
        self.synchronous_commit = synchronous_commit
        initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip("no PostgreSQL binaries on this machine")
        self.pg_ctl = pg_ctl
        self.bin = Path(os.path.realpath(pg_ctl)).parent  # beside it: pg_basebackup, psql
        # Its own folder under /tmp: pytest's are private to root, where `postgres` cannot go.
        self.folder = Path(tempfile.mkdtemp(prefix="shutter-pg-"))
        self.data = self.folder / "pgdata"
        self.port = free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        if primary is None:
            init = [*self._as, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        else:  # a copy of the primary that streams its WAL from then on
            init = [
                *self._as,
                str(self.bin / "pg_basebackup"),
                *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
                *("-D", str(self.data), "-R", "-X", "stream", "-c", "fast"),
            ]
        subprocess.run(init, check=True, capture_output=True)  # noqa: S603

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, check: bool) -> None:
        command = [*self._as, self.pg_ctl, "-D", str(self.data), *args]
        subprocess.run(command, check=check, capture_output=True)  # noqa: S603

    def start(self) -> PostgresServer:
        # No fsync: nothing here must outlive the test. Full-page writes stay on, which a base
        # backup of it needs.
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
            f" -c fsync=off -c synchronous_commit={self.synchronous_commit}"
        )
        self._ctl("-o", options, "-l", str(self.folder / "server.log"), "-w", "start", check=True)
        return self

    def stop(self) -> None:
        self._ctl("-m", "immediate", "-w", "stop", check=False)

    def execute(self, *statements: str) -> None:
        """Run these statements, one by one, outside a transaction (ALTER SYSTEM, say)."""

        async def run() -> None:
            conn = await asyncpg.connect(self.url)
            try:
                for statement in statements:
                    await conn.execute(statement)
            finally:
                await conn.close()

        asyncio.run(run())

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _cluster_port() -> int:
    """A free port whose cluster bus port (the port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


class RedisClusterServers:
    """A Redis Cluster of the test's own: `masters` masters with one replica each, on free
    loopback ports, made by `redis-cli --cluster create`; `node_timeout_ms` is how long a master
    may be silent before its replica takes over."""

    def __init__(self, folder: Path, *, masters: int = 3, node_timeout_ms: int = 2_000) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            pytest.skip("no redis-server / redis-cli binary on this machine")
        version = subprocess.run(  # noqa: S603
            [binary, "--version"], capture_output=True, text=True, check=True
        ).stdout
        found = re.search(r"v=(\d+)\.", version)
        if found is None or int(found.group(1)) < 7:
            pytest.skip(f"Shutter on a cluster needs Redis 7 or newer: {version.strip()}")
        self.binary, self.cli = binary, cli
        self.folder = folder
        self.node_timeout_ms = node_timeout_ms
        self.ports = [_cluster_port() for _ in range(masters * 2)]
        self.masters = masters
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.queue_url: str | None = None  # the standalone Redis its users queue jobs on

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def _start_node(self, port: int) -> None:
        node = self.folder / str(port)
        node.mkdir(parents=True, exist_ok=True)
        self.processes[port] = subprocess.Popen(  # noqa: S603 - the machine's own redis-server
            [
                self.binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(node / "nodes.conf"),
                "--cluster-node-timeout",
                str(self.node_timeout_ms),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(node),
            ],
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> RedisClusterServers:
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            wait_for_port(port)
        subprocess.run(  # noqa: S603
            [
                self.cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
        )
        self.wait_healthy()
        return self

    def _cli(self, port: int, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [self.cli, "-p", str(port), *args], capture_output=True, text=True, timeout=5
        )
        return done.stdout

    def wait_healthy(self, *, timeout: float = 30.0) -> None:
        """Until every live node says the cluster is ok and all slots are served."""
        deadline = time.monotonic() + timeout
        while True:
            infos = [self._cli(port, "cluster", "info") for port in self.processes]
            if all("cluster_state:ok" in info for info in infos):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not come up: {infos}")
            time.sleep(0.2)

    def wait_failover(self, *, timeout: float = 30.0) -> float:
        """After a master was killed: until a replica has taken its place and the cluster is
        ok again; returns how long that took."""
        began = time.monotonic()
        deadline = began + timeout
        while len(self.master_ports()) < self.masters:
            if time.monotonic() > deadline:
                raise RuntimeError("no replica took over")
            time.sleep(0.1)
        self.wait_healthy(timeout=max(0.0, deadline - time.monotonic()))
        return time.monotonic() - began

    def victim(self) -> int:
        """A master to kill: not the node of `url`, which processes started later still find
        the cluster through."""
        return next(port for port in self.master_ports() if port != self.ports[0])

    def master_ports(self) -> list[int]:
        """The ports of the nodes that are masters now."""
        return [
            port
            for port in self.processes
            if "role:master" in self._cli(port, "info", "replication")
        ]

    def kill(self, port: int) -> None:
        """SIGKILL one node."""
        process = self.processes.pop(port)
        process.kill()
        process.wait(10)

    def error_stats(self) -> dict[int, str]:
        """Each live node's `INFO errorstats` and `INFO commandstats`."""
        return {
            port: self._cli(port, "info", "errorstats") + self._cli(port, "info", "commandstats")
            for port in self.processes
        }

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def streaming_pair(
    *,
    synchronous_commit: str = "off",
    prepare: Callable[[PostgresServer], None] | None = None,
) -> Iterator[tuple[PostgresServer, PostgresServer]]:
    """A Postgres primary of the test's own and its streaming replica, both removed after;
    `prepare` runs on the primary before the replica is copied from it."""
    primary = PostgresServer(synchronous_commit=synchronous_commit).start()
    replica = None
    try:
        if prepare is not None:
            prepare(primary)
        replica = PostgresServer(primary=primary).start()
        yield primary, replica
    finally:
        if replica is not None:
            replica.remove()
        primary.remove()
