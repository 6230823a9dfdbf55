"""Queue names, and the arq implementation of the domain's `Jobs` port: a job's name, queue and
id are chosen here, in one place."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from domain.notifications.service import Event

DEFAULT_QUEUE = "default"
MEDIA_QUEUE = "media"
FANOUT_QUEUE = "fanout"
RANKING_QUEUE = "ranking"
QUEUES = (DEFAULT_QUEUE, FANOUT_QUEUE, MEDIA_QUEUE, RANKING_QUEUE)


# arq's enqueue_job in one round trip instead of three (WATCH and EXISTS, then MULTI ... EXEC):
# the same keys and values, which arq's workers read (arq is pinned in pyproject.toml), written
# by a script, so that the check and the writes are one step as arq's transaction makes them.
# KEYS: the job, its result, the queue; ARGV: expiry (ms), the serialized job, its id, score.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1
"""


class ArqJobs:
    """`domain.ports.Jobs` on arq."""

    def __init__(self, queue: ArqRedis) -> None:
        self._queue = queue
        self._script = queue.register_script(_ENQUEUE)

    async def _enqueue(self, function: str, *args: Any, job_id: str | None, queue: str) -> bool:
        """Queue a job as arq's enqueue_job would (now, default expiry); False when a job of
        this id is queued, running or kept already."""
        job_id = job_id or uuid4().hex
        now = timestamp_ms()
        job = serialize_job(function, args, {}, None, now, serializer=self._queue.job_serializer)
        keys = [job_key_prefix + job_id, result_key_prefix + job_id, queue]
        argv: list[bytes | str | int] = [self._queue.expires_extra_ms, job, job_id, now]
        return bool(await self._script(keys=keys, args=argv))

    async def process_media(self, *, media_id: int, attempt: int) -> None:
        """Process an uploaded media item. The job id names the attempt, so a duplicate enqueue
        of the same attempt is dropped by arq while a retry after a failure still gets through."""
        await self._enqueue(
            "process_media",
            media_id,
            job_id=f"process-media:{media_id}:{attempt}",
            queue=MEDIA_QUEUE,
        )

    async def delete_media(self, *, media_ids: list[int]) -> None:
        """Remove the files and rows of media whose post was deleted (idempotent)."""
        if media_ids:
            await self._enqueue("delete_media", media_ids, job_id=None, queue=DEFAULT_QUEUE)

    async def fanout_post(self, *, post_id: int, attempt: int) -> None:
        """Push a committed post into its author's followers' feeds: one job per post and
        attempt (a stalled fan-out's new attempt must not wait for the dead one's job)."""
        await self._enqueue(
            "fanout_post", post_id, job_id=f"fanout:{post_id}:{attempt}", queue=FANOUT_QUEUE
        )

    async def refresh_feeds(self, *, user_ids: list[int]) -> None:
        """Rebuild these users' feeds after their follows changed. While one is queued, another
        for the same user is dropped (the job keeps no result, so the id frees up when it ends)."""
        for user_id in user_ids:
            await self._enqueue(
                "refresh_feed", user_id, job_id=f"refresh-feed:{user_id}", queue=FANOUT_QUEUE
            )

    async def rank_feed(self, *, user_id: int) -> None:
        """Score the newest posts of this user's feed for RANKED reads. One at a time per user
        (the job keeps no result, so the id frees up when it ends)."""
        await self._enqueue(
            "rank_feed", user_id, job_id=f"rank-feed:{user_id}", queue=RANKING_QUEUE
        )

    async def rank_explore(self, *, user_id: int) -> None:
        """Precompute this viewer's next explore snapshot. One queued per viewer at a time."""
        await self._enqueue(
            "rank_explore", user_id, job_id=f"rank-explore:{user_id}", queue=RANKING_QUEUE
        )

    async def notify(self, event: Event) -> None:
        """Tell someone about an event, by a job (never in the request path). The job id is the
        event's key, so the same event queued twice is one job."""
        await self._enqueue(
            "notify", event.to_job(), job_id=f"notify:{event.key}", queue=DEFAULT_QUEUE
        )

    async def purge_account(self, *, user_id: int) -> None:
        """Remove what a deleted account left (idempotent; one queued per account at a time)."""
        await self._enqueue(
            "purge_account", user_id, job_id=f"purge-account:{user_id}", queue=DEFAULT_QUEUE
        )
