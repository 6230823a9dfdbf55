"""Fixed-window rate limits in Redis, shared by every API process."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import cast

from redis.asyncio import Redis

from domain.errors import DomainError, ErrorCode

# KEYS: the window's counter; ARGV: its lifetime. One hit, and the window's end set with it.
_HIT = """
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return hits
"""


class RateLimited(DomainError):
    """Past a limit; `retry_after_seconds` says when the window ends."""

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        super().__init__(
            ErrorCode.RATE_LIMITED,
            message or f"Too many requests; try again in {retry_after_seconds} s.",
        )
        self.retry_after_seconds = retry_after_seconds


async def check_rate(
    redis: Redis,
    *,
    bucket: str,
    limit: int,
    window_seconds: int = 60,
    message: str | None = None,
) -> str:
    """Count one hit against `bucket`; raise RateLimited past `limit` hits in the window
    (with `message`, its {seconds} filled in, when given). Returns the window's key, for
    `refund`."""
    window = int(time.time()) // window_seconds
    key = f"rl:{{{bucket}}}:{window}"
    hits = await cast(Awaitable[int], redis.eval(_HIT, 1, key, str(window_seconds + 1)))
    if int(hits) > limit:
        wait = window_seconds - int(time.time()) % window_seconds
        raise RateLimited(wait, message.format(seconds=wait) if message else None)
    return key


async def refund(redis: Redis, *keys: str) -> None:
    """Give hits back (an attempt that succeeded, where only failures should count)."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.decr(key)
        await pipe.execute()
