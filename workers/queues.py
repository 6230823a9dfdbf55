"""Queue names, and the arq implementation of the domain's `Jobs` port: a job's name, queue and
id are chosen here, in one place."""

from __future__ import annotations

from arq.connections import ArqRedis

from domain.notifications.service import Event

DEFAULT_QUEUE = "default"
MEDIA_QUEUE = "media"
FANOUT_QUEUE = "fanout"
RANKING_QUEUE = "ranking"
QUEUES = (DEFAULT_QUEUE, FANOUT_QUEUE, MEDIA_QUEUE, RANKING_QUEUE)


class ArqJobs:
    """`domain.ports.Jobs` on arq."""

    def __init__(self, queue: ArqRedis) -> None:
        self._queue = queue

    async def process_media(self, *, media_id: int, attempt: int) -> None:
        """Process an uploaded media item. The job id names the attempt, so a duplicate enqueue
        of the same attempt is dropped by arq while a retry after a failure still gets through."""
        await self._queue.enqueue_job(
            "process_media",
            media_id,
            _job_id=f"process-media:{media_id}:{attempt}",
            _queue_name=MEDIA_QUEUE,
        )

    async def delete_media(self, *, media_ids: list[int]) -> None:
        """Remove the files and rows of media whose post was deleted (idempotent)."""
        if media_ids:
            await self._queue.enqueue_job("delete_media", media_ids, _queue_name=DEFAULT_QUEUE)

    async def fanout_post(self, *, post_id: int, attempt: int) -> None:
        """Push a committed post into its author's followers' feeds: one job per post and
        attempt (a stalled fan-out's new attempt must not wait for the dead one's job)."""
        await self._queue.enqueue_job(
            "fanout_post",
            post_id,
            _job_id=f"fanout:{post_id}:{attempt}",
            _queue_name=FANOUT_QUEUE,
        )

    async def refresh_feeds(self, *, user_ids: list[int]) -> None:
        """Rebuild these users' feeds after their follows changed. While one is queued, another
        for the same user is dropped (the job keeps no result, so the id frees up when it ends)."""
        for user_id in user_ids:
            await self._queue.enqueue_job(
                "refresh_feed",
                user_id,
                _job_id=f"refresh-feed:{user_id}",
                _queue_name=FANOUT_QUEUE,
            )

    async def rank_feed(self, *, user_id: int) -> None:
        """Score the newest posts of this user's feed for RANKED reads. One at a time per user
        (the job keeps no result, so the id frees up when it ends)."""
        await self._queue.enqueue_job(
            "rank_feed", user_id, _job_id=f"rank-feed:{user_id}", _queue_name=RANKING_QUEUE
        )

    async def rank_explore(self, *, user_id: int) -> None:
        """Precompute this viewer's next explore snapshot. One queued per viewer at a time."""
        await self._queue.enqueue_job(
            "rank_explore",
            user_id,
            _job_id=f"rank-explore:{user_id}",
            _queue_name=RANKING_QUEUE,
        )

    async def notify(self, event: Event) -> None:
        """Tell someone about an event, by a job (never in the request path). The job id is the
        event's key, so the same event queued twice is one job."""
        await self._queue.enqueue_job(
            "notify", event.to_job(), _job_id=f"notify:{event.key}", _queue_name=DEFAULT_QUEUE
        )

    async def purge_account(self, *, user_id: int) -> None:
        """Remove what a deleted account left (idempotent; one queued per account at a time)."""
        await self._queue.enqueue_job(
            "purge_account", user_id, _job_id=f"purge-account:{user_id}", _queue_name=DEFAULT_QUEUE
        )
