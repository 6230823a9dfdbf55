"""arq worker settings, one per queue, for the jobs of workers/jobs.py; run them with
`shutter worker` (every queue) or `shutter worker --queue NAME`.

A crashed job is retried only after the longest `job_timeout` of its worker, so each queue gets
its own worker process and short jobs never wait behind a long one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq.cron import cron
from arq.worker import func
from tortoise import Tortoise

from config.outages import is_outage
from config.runtime import Runtime, arq_settings, settle_heap, start
from config.settings import Settings
from domain.media.service import clean_work_dirs
from workers.jobs import (
    delete_expired_deactivations,
    delete_media,
    expire_stories,
    fanout_post,
    flush_counters,
    notify,
    process_media,
    purge_account,
    purge_expired_refresh_tokens,
    purge_view_events,
    rank_explore,
    rank_feed,
    reconcile_counters,
    refresh_feed,
    sweep_fanouts,
    sweep_media,
    train_ranker,
    train_spam_model,
)
from workers.queues import (
    DEFAULT_QUEUE,
    FANOUT_QUEUE,
    MEDIA_QUEUE,
    RANKING_QUEUE,
)
from workers.resilience import backoff

log = logging.getLogger(__name__)


async def _started(settings: Settings, database_url: str, redis_url: str, queue: str) -> Runtime:
    """The worker's runtime, once Postgres and Redis can be reached: a worker started during an
    outage waits for the stores (one line per try) instead of exiting."""
    attempt = 1
    while True:
        try:
            return await start(settings, database_url=database_url, redis_url=redis_url)
        except Exception as error:
            if not is_outage(error):
                raise
            pause = backoff(attempt)
            log.warning("queue %s: cannot start (%s); trying again in %.0f s", queue, error, pause)
            await Tortoise.close_connections()
            await asyncio.sleep(pause)
            attempt += 1


def worker_settings(
    settings: Settings,
    *,
    queue: str,
    database_url: str,
    redis_url: str,
    burst: bool = False,
    runtime: Runtime | None = None,
    handle_signals: bool | None = None,
) -> dict[str, Any]:
    """Keyword arguments for a worker (`workers.resilience.ResilientWorker`) serving `queue`.

    The worker builds its own runtime at start-up, unless given one to share (the tests run a
    worker inside the process that already has one).
    """

    async def on_startup(ctx: dict[str, Any]) -> None:
        if runtime is None:
            ctx["runtime"] = await _started(settings, database_url, redis_url, queue)
            settle_heap()
        else:
            ctx["runtime"] = runtime
        if queue == MEDIA_QUEUE:
            # Temporary media work in one folder per process; those of dead processes go.
            ctx["media_work_dir"] = clean_work_dirs(settings.data_dir / "media-work")

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if runtime is None and "runtime" in ctx:
            await ctx["runtime"].close()

    queues: dict[str, dict[str, Any]] = {
        DEFAULT_QUEUE: {
            "functions": [
                purge_expired_refresh_tokens,
                delete_media,
                flush_counters,
                reconcile_counters,
                notify,
                func(purge_account, keep_result=0),
                delete_expired_deactivations,
                train_spam_model,
                expire_stories,
                purge_view_events,
            ],
            "cron_jobs": [
                cron(purge_expired_refresh_tokens, minute={17}, run_at_startup=False),
                cron(delete_expired_deactivations, minute={23}, run_at_startup=False, unique=True),
                cron(train_spam_model, minute={41}, run_at_startup=False, unique=True),
                cron(expire_stories, second={30}, run_at_startup=True, unique=True),
                cron(purge_view_events, hour={4}, minute={7}, run_at_startup=False, unique=True),
                cron(
                    flush_counters, second=set(range(0, 60, 10)), run_at_startup=True, unique=True
                ),
                cron(
                    reconcile_counters,
                    second=set(range(5, 60, 10)),
                    run_at_startup=True,
                    unique=True,
                ),
            ],
            "job_timeout": 60,
        },
        FANOUT_QUEUE: {
            "functions": [fanout_post, func(refresh_feed, keep_result=0), sweep_fanouts],
            # A fan-out that stopped (its worker died) is enqueued again by this sweep within
            # about 20 s, not after job_timeout: it resumes from its last page done.
            "cron_jobs": [
                cron(sweep_fanouts, second=set(range(0, 60, 5)), run_at_startup=True, unique=True)
            ],
            "job_timeout": 300,
        },
        RANKING_QUEUE: {
            "functions": [
                func(rank_feed, keep_result=0),
                func(rank_explore, keep_result=0),
                # Its fitting runs in a thread, so the queue's short jobs go on meanwhile.
                func(train_ranker, timeout=1_800),
            ],
            "cron_jobs": [
                cron(train_ranker, minute={11}, run_at_startup=False, unique=True),
            ],
            "job_timeout": 60,
        },
        # Long, CPU-bound jobs: their own process, so a crashed video job (retried only after
        # job_timeout) never holds up anything else. Video work runs in a child process that
        # dies with a cancelled job.
        MEDIA_QUEUE: {
            "functions": [process_media, sweep_media],
            # Every 20 s: a row whose worker died is noticed within a minute.
            "cron_jobs": [cron(sweep_media, second={0, 20, 40}, run_at_startup=True)],
            "job_timeout": 600,
            "max_jobs": 2,
        },
    }
    if queue not in queues:
        raise ValueError(f"unknown queue {queue!r}; choose one of {', '.join(sorted(queues))}")
    return {
        **queues[queue],
        "queue_name": queue,
        # Ride out a Redis restart: keep reconnecting for about a minute before giving up.
        "redis_settings": arq_settings(
            settings.queue_url(redis_url), conn_retries=60, conn_retry_delay=1
        ),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "burst": burst,
        "poll_delay": 0 if burst else 0.5,
        # An outage makes a job a Retry with backoff up to 30 s (workers/resilience.py): ten
        # tries ride out about three minutes of it.
        "max_tries": 10,
        # arq's own handlers, unless the caller runs several workers and handles signals itself.
        "handle_signals": (not burst) if handle_signals is None else handle_signals,
    }
