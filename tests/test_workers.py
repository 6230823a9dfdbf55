"""The default worker, run in burst mode against real Redis and Postgres."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from arq import create_pool
from arq.jobs import Job
from redis.asyncio import Redis

from config.runtime import Runtime, arq_settings, close_sentinels
from config.settings import Settings
from domain.graph import flows as graph_flows
from domain.notifications.models import Notification
from domain.ports import Ports
from domain.users.models import RefreshToken
from domain.users.tokens import issue_tokens
from tests.factories import make_user
from tests.jobs import drain
from tests.servers import RedisSentinel, RedisServer
from workers.queues import DEFAULT_QUEUE, ArqJobs


async def test_purge_job_removes_only_long_expired_refresh_tokens(
    settings: Settings, runtime: Runtime
) -> None:
    # given: one live token and one that expired weeks ago
    assert settings.database_url
    assert settings.redis_url
    user = await make_user("ana")
    await issue_tokens(user_id=user.id, secret=settings.jwt_secret, access_ttl=60, refresh_ttl=3600)
    await issue_tokens(user_id=user.id, secret=settings.jwt_secret, access_ttl=60, refresh_ttl=3600)
    old_row = await RefreshToken.all().order_by("-id").first()
    assert old_row is not None
    old_row.expires_at = datetime.now(UTC) - timedelta(days=30)
    await old_row.save(update_fields=["expires_at"])

    # when: the job is enqueued twice (arq delivers at least once) and the worker drains it
    jobs = runtime.queue
    first = await jobs.enqueue_job(
        "purge_expired_refresh_tokens", _job_id="purge-test-1", _queue_name=DEFAULT_QUEUE
    )
    second = await jobs.enqueue_job(
        "purge_expired_refresh_tokens", _job_id="purge-test-2", _queue_name=DEFAULT_QUEUE
    )
    assert first is not None
    assert second is not None
    worker = await drain(DEFAULT_QUEUE, settings=settings, runtime=runtime)

    # then: the expired token is gone, the live one kept, and the second run changed nothing
    results = [await first.result(timeout=5), await second.result(timeout=5)]
    assert sorted(results) == [0, 1]  # whichever ran first deleted it
    assert worker.jobs_failed == 0
    assert await RefreshToken.all().count() == 1


@pytest.mark.parametrize("through", ["url", "sentinel"])
async def test_jobs_go_to_the_queue_redis_when_it_is_set_apart(
    settings: Settings, runtime: Runtime, tmp_path: Path, through: str
) -> None:
    """REDIS_QUEUE_URL: the flows enqueue on the queue Redis, the workers poll it; the rest
    (caches, feeds, counters) stays on REDIS_URL. The queue Redis is named by its URL, or by
    the Sentinels that watch it."""
    queue_redis = RedisServer(tmp_path).start()
    sentinel = RedisSentinel(tmp_path, queue_redis).start() if through == "sentinel" else None
    try:
        url = sentinel.url() if sentinel else queue_redis.url
        apart = settings.model_copy(update={"redis_queue_url": url})
        assert settings.redis_url
        pool = await create_pool(arq_settings(apart.queue_url(settings.redis_url)))
        try:
            moved = dataclasses.replace(
                runtime, queue=pool, ports=Ports(jobs=ArqJobs(pool), events=runtime.ports.events)
            )
            ana, bo = await make_user("ana"), await make_user("bo")
            await graph_flows.follow(
                follower_id=bo.id, followee_id=ana.id, users=moved.users, ports=moved.ports
            )
            assert await pool.zcard(DEFAULT_QUEUE) == 1  # the notify job
            direct = Redis.from_url(queue_redis.url)  # on the queue Redis itself
            assert await direct.zcard(DEFAULT_QUEUE) == 1
            await direct.aclose()
            assert not await runtime.redis.exists(DEFAULT_QUEUE)
            await drain(DEFAULT_QUEUE, settings=apart, runtime=moved)
            assert await Notification.filter(user_id=ana.id, kind="FOLLOW").exists()
            assert await pool.zcard(DEFAULT_QUEUE) == 0
        finally:
            await close_sentinels(pool)
            await pool.aclose()
    finally:
        if sentinel is not None:
            sentinel.stop()
        queue_redis.stop()


async def test_a_job_is_queued_once_per_id_as_arq_queues_it(runtime: Runtime) -> None:
    """ArqJobs writes arq's own job records in one script call: arq reads them back, and a
    second job of the same id is dropped while the first is queued."""
    jobs = ArqJobs(runtime.queue)
    assert await jobs._enqueue("rank_feed", 7, job_id="rank-feed:7", queue=DEFAULT_QUEUE)
    assert not await jobs._enqueue("rank_feed", 7, job_id="rank-feed:7", queue=DEFAULT_QUEUE)
    assert await runtime.queue.zscore(DEFAULT_QUEUE, "rank-feed:7") is not None
    info = await Job("rank-feed:7", runtime.queue, _queue_name=DEFAULT_QUEUE).info()
    assert info is not None
    assert (info.function, info.args, info.job_try) == ("rank_feed", (7,), None)
    assert 0 < (await runtime.queue.pttl("arq:job:rank-feed:7")) <= runtime.queue.expires_extra_ms
