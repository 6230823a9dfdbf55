"""The default worker, run in burst mode against real Redis and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from config.runtime import Runtime
from config.settings import Settings
from domain.users.models import RefreshToken
from domain.users.tokens import issue_tokens
from tests.factories import make_user
from workers.queues import DEFAULT_QUEUE
from workers.settings import worker_settings


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
    pool = await create_pool(
        RedisSettings.from_dsn(settings.redis_url), default_queue_name=DEFAULT_QUEUE
    )
    try:
        await pool.enqueue_job("purge_expired_refresh_tokens", _job_id="purge-test-1")
        await pool.enqueue_job("purge_expired_refresh_tokens", _job_id="purge-test-2")
    finally:
        await pool.aclose()
    worker = Worker(
        **worker_settings(
            settings,
            queue=DEFAULT_QUEUE,
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            burst=True,
            runtime=runtime,
        )
    )
    try:
        await worker.main()
    finally:
        await worker.close()

    # then: the expired token is gone, the live one kept, and the second run changed nothing
    assert worker.jobs_complete == 2
    assert worker.jobs_failed == 0
    assert await RefreshToken.all().count() == 1
