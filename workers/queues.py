"""Queue names and typed wrappers around `enqueue_job`, so a job's name and arguments are
checked in one place."""

from __future__ import annotations

from arq.connections import ArqRedis

DEFAULT_QUEUE = "default"
MEDIA_QUEUE = "media"
QUEUES = (DEFAULT_QUEUE, MEDIA_QUEUE)


async def enqueue_process_media(jobs: ArqRedis, *, media_id: int, attempt: int) -> None:
    """Process an uploaded media item. The job id names the attempt, so a duplicate enqueue of
    the same attempt is dropped by arq while a retry after a failure still gets through."""
    await jobs.enqueue_job(
        "process_media",
        media_id,
        _job_id=f"process-media:{media_id}:{attempt}",
        _queue_name=MEDIA_QUEUE,
    )


async def enqueue_delete_media(jobs: ArqRedis, *, media_ids: list[int]) -> None:
    """Remove the files and rows of media whose post was deleted (idempotent)."""
    if media_ids:
        await jobs.enqueue_job("delete_media", media_ids, _queue_name=DEFAULT_QUEUE)
