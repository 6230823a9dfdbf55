"""Run a queue's worker in burst mode, in the test process, until the queue is empty."""

from __future__ import annotations

from config.runtime import Runtime
from config.settings import Settings
from workers.resilience import ResilientWorker
from workers.settings import worker_settings


async def drain(queue: str, *, settings: Settings, runtime: Runtime) -> ResilientWorker:
    assert settings.database_url
    assert settings.redis_url
    worker = ResilientWorker(
        **worker_settings(
            settings,
            queue=queue,
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
    return worker
