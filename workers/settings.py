"""arq worker settings, one class per queue; run with `shutter worker --queue NAME`.

A crashed job is retried only after the longest `job_timeout` of its worker, so each queue gets
its own worker process and short jobs never wait behind a long one.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.cron import cron
from arq.worker import func

from config.runtime import Runtime, arq_settings, settle_heap, start
from config.settings import Settings
from domain.feed import service as feed
from domain.media import flows as media_flows
from domain.media import service as media_service
from domain.notifications import service as notifications
from domain.posts import counters
from domain.ranking import service as ranking
from domain.users.maintenance import purge_refresh_tokens
from workers.queues import (
    DEFAULT_QUEUE,
    FANOUT_QUEUE,
    MEDIA_QUEUE,
    RANKING_QUEUE,
)

log = logging.getLogger(__name__)


async def process_media(ctx: dict[str, Any], media_id: int) -> str | None:
    runtime: Runtime = ctx["runtime"]
    status = await media_service.process_media(
        media_id=media_id,
        store=runtime.store,
        events=runtime.ports.events,
        media_store=runtime.media,
        video_preset=runtime.settings.video_preset,
    )
    return status.value if status else None


async def sweep_media(ctx: dict[str, Any]) -> int:
    """Re-enqueue media that a lost job or a crashed worker left behind; fail hopeless ones."""
    runtime: Runtime = ctx["runtime"]
    return await media_flows.sweep(
        store=runtime.store, media_store=runtime.media, ports=runtime.ports
    )


async def delete_media(ctx: dict[str, Any], media_ids: list[int]) -> int:
    runtime: Runtime = ctx["runtime"]
    return await media_service.purge(
        media_ids=media_ids, store=runtime.store, media_store=runtime.media
    )


async def flush_counters(ctx: dict[str, Any]) -> int:
    """Write changed like / comment / save counters from Redis to Postgres."""
    runtime: Runtime = ctx["runtime"]
    posts = await counters.flush(runtime.redis, "post")
    comments = await counters.flush(runtime.redis, "comment")
    await runtime.posts.posts.invalidate(*posts)
    await runtime.posts.comments.invalidate(*comments)
    return len(posts) + len(comments)


async def fanout_post(ctx: dict[str, Any], post_id: int) -> int:
    runtime: Runtime = ctx["runtime"]
    return await feed.fanout_post(post_id=post_id, stores=runtime.feed_stores)


async def refresh_feed(ctx: dict[str, Any], user_id: int) -> bool:
    runtime: Runtime = ctx["runtime"]
    return await feed.refresh(user_id=user_id, stores=runtime.feed_stores)


async def rank_feed(ctx: dict[str, Any], user_id: int) -> int:
    runtime: Runtime = ctx["runtime"]
    return await ranking.rank_feed(user_id=user_id, stores=runtime.feed_stores)


async def notify(ctx: dict[str, Any], event: dict[str, Any]) -> int | None:
    runtime: Runtime = ctx["runtime"]
    return await notifications.record(notifications.Event(**event), events=runtime.ports.events)


async def purge_expired_refresh_tokens(ctx: dict[str, Any]) -> int:
    deleted = await purge_refresh_tokens()
    if deleted:
        log.info("purged %d expired refresh tokens", deleted)
    return deleted


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
    """Keyword arguments for `arq.worker.Worker` serving `queue`.

    The worker builds its own runtime at start-up, unless given one to share (the tests run a
    worker inside the process that already has one).
    """

    async def on_startup(ctx: dict[str, Any]) -> None:
        if runtime is None:
            ctx["runtime"] = await start(settings, database_url=database_url, redis_url=redis_url)
            settle_heap()
        else:
            ctx["runtime"] = runtime

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if runtime is None and "runtime" in ctx:
            await ctx["runtime"].close()

    queues: dict[str, dict[str, Any]] = {
        DEFAULT_QUEUE: {
            "functions": [purge_expired_refresh_tokens, delete_media, flush_counters, notify],
            "cron_jobs": [
                cron(purge_expired_refresh_tokens, minute={17}, run_at_startup=False),
                cron(
                    flush_counters, second=set(range(0, 60, 10)), run_at_startup=True, unique=True
                ),
            ],
            "job_timeout": 60,
        },
        FANOUT_QUEUE: {
            "functions": [fanout_post, func(refresh_feed, keep_result=0)],
            "job_timeout": 300,
        },
        RANKING_QUEUE: {
            "functions": [func(rank_feed, keep_result=0)],
            "job_timeout": 60,
        },
        # Long, CPU-bound jobs: their own process, so a crashed video job (retried only after
        # job_timeout) never holds up anything else. Video work runs in a child process that
        # dies with a cancelled job.
        MEDIA_QUEUE: {
            "functions": [process_media, sweep_media],
            "cron_jobs": [cron(sweep_media, second={0}, run_at_startup=True)],
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
        "redis_settings": arq_settings(redis_url, conn_retries=60, conn_retry_delay=1),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "burst": burst,
        "poll_delay": 0 if burst else 0.5,
        "max_tries": 5,
        # arq's own handlers, unless the caller runs several workers and handles signals itself.
        "handle_signals": (not burst) if handle_signals is None else handle_signals,
    }
