"""The port of the hot read path: batched Redis reads, each answered through its own handle.

A store queues its reads in a `ReadBatch` that the caller may share with other stores (a feed
page reads posts, counters, follows, authors and media in one round trip), and gets back one
`Reply` per command. Once the batch has run, each reply holds its own command's value; a read
cannot take another's reply, however the commands are ordered. A store's `queue_...` method
returns a function of no arguments that builds its result from its own replies.

The commands are redis-py's, with redis-py's reply shapes (decoded strings, HGETALL as a dict,
WITHSCORES as (member, score) pairs). The implementation is config/redis_reads.py (hiredis over
one pipelined connection); the domain depends on this protocol only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

_PENDING: Any = object()


class Reply(Generic[T]):
    """One queued command's reply: `value` once its batch has run."""

    __slots__ = ("_convert", "_value")

    def __init__(self, convert: Callable[[Any], T] | None = None) -> None:
        self._convert = convert
        self._value: T = _PENDING

    def resolve(self, reply: Any) -> None:
        """Set by the batch as the reply arrives (converted as redis-py would)."""
        convert = self._convert
        self._value = reply if convert is None or reply is None else convert(reply)

    @property
    def value(self) -> T:
        if self._value is _PENDING:
            raise RuntimeError("This read's batch has not run yet.")
        return self._value


class ReadBatch(Protocol):
    """Reads queued to go out together; `execute` runs them and resolves every reply (or
    raises the first error reply, redis.exceptions.ResponseError, once all are read)."""

    def get(self, key: str) -> Reply[str | None]: ...

    def mget(self, keys: Sequence[str]) -> Reply[list[str | None]]: ...

    def exists(self, *keys: str) -> Reply[int]: ...

    def expire(self, key: str, seconds: int) -> Reply[bool]: ...

    def hgetall(self, key: str) -> Reply[dict[str, str]]: ...

    def smismember(self, key: str, members: Sequence[Any]) -> Reply[list[bool]]: ...

    def smembers(self, key: str) -> Reply[list[str]]: ...

    def zmscore(self, key: str, members: Sequence[Any]) -> Reply[list[float | None]]: ...

    def zinter_withscores(self, keys: Sequence[str], weights: Sequence[float]) -> Reply[list[str]]:
        """ZINTER ... WITHSCORES as Redis sends it: member, score, member, score... (scores as
        Redis writes them), in Redis's order (by score, then member)."""
        ...

    def zrangebyscore(self, key: str, min: str | float, max: str | float) -> Reply[list[str]]: ...

    def zrevrangebylex(
        self, key: str, max: str, min: str, start: int | None = None, num: int | None = None
    ) -> Reply[list[str]]: ...

    def zrevrangebyscore(
        self,
        key: str,
        max: str | float,
        min: str | float,
        start: int | None = None,
        num: int | None = None,
    ) -> Reply[list[str]]: ...

    def zrevrangebyscore_withscores(
        self,
        key: str,
        max: str | float,
        min: str | float,
        start: int | None = None,
        num: int | None = None,
    ) -> Reply[list[tuple[str, float]]]: ...

    async def execute(self) -> None: ...


class Reads(Protocol):
    def batch(self) -> ReadBatch: ...

    async def close(self) -> None: ...


async def read_alone(reads: Reads, queue: Callable[[ReadBatch], Callable[[], T]]) -> T:
    """Run one queued read in a batch of its own (`queue` puts its commands in the batch and
    returns the function that builds its result from their replies), for when there is nothing
    to batch it with."""
    batch = reads.batch()
    result = queue(batch)
    await batch.execute()
    return result()
