"""Workers that ride out outages, and jobs that are retried after one.

arq's worker retries its Redis connection at start-up only: once running, a Redis error in its
poll loop ends the process, and a job that raised on a lost connection is failed for good (arq
retries only `Retry` and cancellation). Here:

- `ResilientWorker` catches an outage in the poll loop, logs one line, waits for Redis with
  backoff and goes on where it was (jobs running meanwhile carry on; redis-py reconnects by
  itself). It also gives back the job slots arq took for jobs it could not start.
- `retried` makes an outage inside a job a `Retry` with backoff (1 s, 2 s, 4 s ... 30 s), so the
  job runs again once the store is back, up to the worker's `max_tries`.

Both count what they did in Prometheus metrics (`shutter_worker_outages_total`,
`shutter_job_retries_total`), which `shutter worker --metrics-port` serves.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from arq.worker import Retry, Worker
from prometheus_client import Counter, Gauge

from config.outages import is_outage
from config.runtime import close_sentinels

log = logging.getLogger(__name__)

J = TypeVar("J", bound=Callable[..., Coroutine[Any, Any, Any]])

OUTAGES = Counter(
    "shutter_worker_outages_total", "Outages a worker's poll loop waited out", ["queue"]
)
DOWN = Gauge("shutter_worker_redis_down", "1 while a worker waits for Redis", ["queue"])
RETRIES = Counter(
    "shutter_job_retries_total", "Jobs put back after an outage, by function", ["function"]
)

MAX_BACKOFF_SECONDS = 30.0


def backoff(attempt: int, *, first: float = 1.0) -> float:
    """1, 2, 4 ... seconds for attempts 1, 2, 3 ..., at most MAX_BACKOFF_SECONDS."""
    return min(first * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS)


class ResilientWorker(Worker):
    async def close(self) -> None:
        pool = self._pool
        await super().close()
        if pool is not None:
            await close_sentinels(pool)

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except Exception as error:
            if not is_outage(error):
                raise
            await self._wait_for_redis(error)

    async def _wait_for_redis(self, error: BaseException) -> None:
        queue = self.queue_name
        OUTAGES.labels(queue).inc()
        DOWN.labels(queue).set(1)
        log.warning("queue %s: Redis unreachable (%s); waiting for it", queue, error)
        started = time.monotonic()
        attempt = 1
        while True:
            await asyncio.sleep(backoff(attempt, first=0.25))
            try:
                await self.pool.ping()
                break
            except Exception as again:
                if not is_outage(again):
                    raise
                attempt += 1
        DOWN.labels(queue).set(0)
        self._give_back_slots()
        log.warning("queue %s: Redis is back after %.1f s", queue, time.monotonic() - started)

    def _give_back_slots(self) -> None:
        """arq counts a job (and takes a semaphore slot) before it asks Redis whether it may
        start it; when that asking fails, the slot is never given back. Every slot not held by
        a running job is given back."""
        running = sum(1 for task in self.tasks.values() if not task.done())
        while self.job_counter > running:
            self.job_counter -= 1
            self.sem.release()


def retried(job: J) -> J:
    """The job, put back with backoff when it meets an outage (`ctx["job_try"]` is arq's
    count of tries)."""

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await job(ctx, *args, **kwargs)
        except Exception as error:
            if not is_outage(error):
                raise
            attempt = int(ctx.get("job_try") or 1)
            RETRIES.labels(job.__name__).inc()
            log.warning("%s: %s; trying again (try %d)", job.__name__, error, attempt + 1)
            raise Retry(defer=backoff(attempt)) from error

    return cast(J, run)
