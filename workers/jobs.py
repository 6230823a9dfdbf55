"""The arq jobs: each takes the worker's runtime from its context and calls a domain flow or
service, so a job does what the same action does anywhere else. arq delivers at least once:
every job is safe to run twice, and one that meets an outage is tried again (`retried`).
"""

from __future__ import annotations

import logging
from typing import Any

from config.runtime import Runtime
from domain.feed import flows as feed_flows
from domain.feed import service as feed
from domain.media import flows as media_flows
from domain.media import service as media_service
from domain.moderation import classifier
from domain.notifications import service as notifications
from domain.posts import counters
from domain.ranking import explore
from domain.ranking import service as ranking
from domain.reels import service as reels
from domain.stories.store import now_ms
from domain.users import flows as user_flows
from domain.users.maintenance import purge_refresh_tokens
from workers.resilience import retried

log = logging.getLogger(__name__)


@retried
async def process_media(ctx: dict[str, Any], media_id: int) -> str | None:
    runtime: Runtime = ctx["runtime"]
    status = await media_service.process_media(
        media_id=media_id,
        store=runtime.store,
        events=runtime.ports.events,
        media_store=runtime.media,
        video_preset=runtime.settings.video_preset,
        work_dir=ctx.get("media_work_dir"),
    )
    return status.value if status else None


@retried
async def sweep_media(ctx: dict[str, Any]) -> int:
    """Re-enqueue media that a lost job or a crashed worker left behind; fail hopeless ones."""
    runtime: Runtime = ctx["runtime"]
    return await media_flows.sweep(
        store=runtime.store, media_store=runtime.media, ports=runtime.ports
    )


@retried
async def delete_media(ctx: dict[str, Any], media_ids: list[int]) -> int:
    runtime: Runtime = ctx["runtime"]
    return await media_service.purge(
        media_ids=media_ids, store=runtime.store, media_store=runtime.media
    )


@retried
async def flush_counters(ctx: dict[str, Any]) -> int:
    """Write changed like / comment / save counters from Redis to Postgres."""
    runtime: Runtime = ctx["runtime"]
    posts = await counters.flush(runtime.redis, "post")
    comments = await counters.flush(runtime.redis, "comment")
    await runtime.posts.posts.invalidate(*posts)
    await runtime.posts.comments.invalidate(*comments)
    return len(posts) + len(comments)


@retried
async def reconcile_counters(ctx: dict[str, Any]) -> int:
    """Recount from the rows the counters that may have drifted (see domain/posts/counters)."""
    runtime: Runtime = ctx["runtime"]
    posts = await counters.reconcile(runtime.redis, "post")
    comments = await counters.reconcile(runtime.redis, "comment")
    return posts + comments


@retried
async def fanout_post(ctx: dict[str, Any], post_id: int) -> int:
    runtime: Runtime = ctx["runtime"]
    return await feed_flows.fan_out(
        post_id=post_id, stores=runtime.feed_stores, ports=runtime.ports
    )


@retried
async def sweep_fanouts(ctx: dict[str, Any]) -> int:
    """Enqueue again the fan-outs that stopped (a worker that died, a job never enqueued)."""
    runtime: Runtime = ctx["runtime"]
    return await feed_flows.sweep_fanouts(ports=runtime.ports)


@retried
async def refresh_feed(ctx: dict[str, Any], user_id: int) -> bool:
    runtime: Runtime = ctx["runtime"]
    return await feed.refresh(user_id=user_id, stores=runtime.feed_stores)


@retried
async def rank_feed(ctx: dict[str, Any], user_id: int) -> int:
    runtime: Runtime = ctx["runtime"]
    return await ranking.rank_feed(
        user_id=user_id, stores=runtime.feed_stores, served=runtime.ranking
    )


@retried
async def notify(ctx: dict[str, Any], event: dict[str, Any]) -> int | None:
    runtime: Runtime = ctx["runtime"]
    return await notifications.record(notifications.Event(**event), events=runtime.ports.events)


@retried
async def purge_expired_refresh_tokens(ctx: dict[str, Any]) -> int:
    deleted = await purge_refresh_tokens()
    if deleted:
        log.info("purged %d expired refresh tokens", deleted)
    return deleted


@retried
async def purge_account(ctx: dict[str, Any], user_id: int) -> int:
    runtime: Runtime = ctx["runtime"]
    return await user_flows.purge_account(
        user_id=user_id, stores=runtime.post_stores, ports=runtime.ports
    )


@retried
async def delete_expired_deactivations(ctx: dict[str, Any]) -> int:
    runtime: Runtime = ctx["runtime"]
    return await user_flows.delete_expired_deactivations(
        stores=runtime.post_stores, ports=runtime.ports
    )


@retried
async def train_spam_model(ctx: dict[str, Any]) -> int | None:
    """Retrain the spam classifier on moderators' decisions (kept only when it is better)."""
    trained = await classifier.train()
    log.info(
        "spam model: %s decisions, held-out accuracy %s, %s",
        trained.samples,
        trained.accuracy,
        "kept" if trained.model_id else "not kept",
    )
    return trained.model_id


@retried
async def rank_explore(ctx: dict[str, Any], user_id: int) -> int:
    """Precompute a viewer's next explore snapshot with the served model."""
    runtime: Runtime = ctx["runtime"]
    snapshot = await explore.rank_explore(
        user_id=user_id, redis=runtime.redis, served=runtime.ranking
    )
    return len(snapshot.posts)


@retried
async def train_ranker(ctx: dict[str, Any]) -> str | None:
    """Train the ranking model on the interaction log; publish it only when it is better."""
    from domain.ranking import training  # the models' libraries: only where training runs

    runtime: Runtime = ctx["runtime"]
    trained = await training.train(redis=runtime.redis, store=runtime.store)
    log.info(
        "ranking model: %s engagements, validation AUC %s on %s impressions; %s",
        trained.engagements,
        trained.auc,
        trained.validation_impressions,
        f"published {trained.version}" if trained.version else f"kept ({trained.reason})",
    )
    return trained.version


@retried
async def expire_stories(ctx: dict[str, Any]) -> int:
    """Drop passed stories from the live sets (reads check expiry themselves already)."""
    runtime: Runtime = ctx["runtime"]
    return await runtime.stories.expire(at_ms=now_ms())


@retried
async def purge_view_events(ctx: dict[str, Any]) -> int:
    """Drop view events past their retention (the per-post totals stay exact)."""
    return await reels.purge_old_events()
