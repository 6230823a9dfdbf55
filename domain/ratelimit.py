"""Fixed-window rate limits in Redis, shared by every API process."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from domain.errors import DomainError, ErrorCode


async def check_rate(redis: Redis, *, bucket: str, limit: int, window_seconds: int = 60) -> None:
    """Count one hit against `bucket`; raise RATE_LIMITED past `limit` hits in the window."""
    window = int(time.time()) // window_seconds
    key = f"rl:{{{bucket}}}:{window}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_seconds + 1)
        hits, _ = await pipe.execute()
    if int(hits) > limit:
        retry = window_seconds - int(time.time()) % window_seconds
        raise DomainError(
            ErrorCode.RATE_LIMITED, f"Too many requests; try again in {retry} seconds."
        )
