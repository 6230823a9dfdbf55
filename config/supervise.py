"""`shutter serve`'s worker processes, kept running: one that dies is started again.

A child that exits (a crash, an OOM kill, a signal) is restarted after a pause that doubles
while it keeps dying young (1 s up to 30 s) and starts again at 1 s once it has lived a minute,
so a crash loop neither spins nor gives up. Each exit and restart is one log line.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("shutter.serve")

STEADY_SECONDS = 60.0  # a child that lived this long is healthy again
MAX_PAUSE_SECONDS = 30.0


@dataclass
class _Child:
    name: str
    command: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    pause: float = 1.0
    restart_at: float | None = None
    restarts: int = 0


class Supervisor:
    def __init__(self, children: dict[str, Sequence[str]], *, poll_seconds: float = 0.5) -> None:
        self._children = [_Child(name, command) for name, command in children.items()]
        self._poll = poll_seconds
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        for child in self._children:
            self._spawn(child)
        self._thread.start()
        return self

    def _spawn(self, child: _Child) -> None:
        child.process = subprocess.Popen(child.command, env=os.environ.copy())  # noqa: S603
        child.started_at = time.monotonic()
        child.restart_at = None

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll):
            with self._lock:
                for child in self._children:
                    self._check(child)

    def _check(self, child: _Child) -> None:
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at and not self._stopping.is_set():
                child.restarts += 1
                self._spawn(child)
                log.warning("%s restarted (restart %d)", child.name, child.restarts)
            return
        assert child.process is not None
        code = child.process.poll()
        if code is None:
            return
        lived = now - child.started_at
        if child.restarts:  # a restarted child that dies young waits longer each time
            young = lived < STEADY_SECONDS
            child.pause = min(child.pause * 2, MAX_PAUSE_SECONDS) if young else 1.0
        child.restart_at = now + child.pause
        log.warning(
            "%s exited (%s) after %.0f s; restarting in %.0f s",
            child.name,
            f"signal {-code}" if code < 0 else f"code {code}",
            lived,
            child.pause,
        )

    def stop(self, *, grace_seconds: float = 20.0) -> None:
        """SIGTERM every child (each finishes its jobs as arq does), then SIGKILL the late."""
        self._stopping.set()
        self._thread.join(5)
        with self._lock:
            running = [c.process for c in self._children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in running:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
