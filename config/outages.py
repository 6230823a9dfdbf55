"""What an outage looks like: the errors that mean Redis or Postgres cannot be reached, or did
not answer in time, right now. They are worth retrying (a job, in a moment) and worth telling a
client so (`UNAVAILABLE`, retryable), unlike a bug, which is neither.
"""

from __future__ import annotations

import os

import asyncpg.exceptions as pg
from redis.exceptions import ClusterDownError, ClusterError, ResponseError, SlotNotCoveredError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tortoise.exceptions import DBConnectionError

from domain.errors import ErrorCode

# What an outage tells a client, wherever it is answered (a field's error, a shed request).
UNAVAILABLE_EXTENSIONS = {"code": ErrorCode.UNAVAILABLE.value, "retryable": True}
RETRY_AFTER_SECONDS = 1  # with a 503: come back after a second

_OUTAGES: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # refused, reset, closed, "Redis is loading"
    RedisTimeoutError,  # no answer within the timeout (or a backlog of unsent bytes)
    pg.PostgresConnectionError,  # the connection is gone, or could not be made
    pg.OperatorInterventionError,  # shutting down, starting up, a statement timed out
    DBConnectionError,
    ConnectionError,  # the socket itself: refused, reset, broken pipe
    TimeoutError,  # asyncio's, for a bounded wait
    # A Redis Cluster between masters (a failover): no master serves a slot for a moment.
    ClusterDownError,
    ClusterError,  # redis-py's retries over a moving slot map ran out
    SlotNotCoveredError,
)
_REDIS_INTERNALS = (
    os.path.join("redis", "asyncio", "connection.py"),
    os.path.join("redis", "asyncio", "cluster.py"),
)
# The same said in a reply read by the pipelined reader (config/redis_reads.py).
_CLUSTER_MOMENTS = ("CLUSTERDOWN", "TRYAGAIN", "MOVED ", "ASK ", "MASTERDOWN")


def _torn_down(error: BaseException) -> bool:
    """redis-py's asyncio internals caught mid-change by a Redis node dying under concurrent
    commands fail from deep inside with an AttributeError or a RuntimeError, not with their
    own ConnectionError: a connection torn down by one command while another writes on it
    (its writer gone, its transport closed), or a cluster's node table re-read while another
    command drops the dead node from it ("dictionary changed size during iteration")."""
    if not isinstance(error, AttributeError | RuntimeError):
        return False
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename.endswith(_REDIS_INTERNALS):
            return True
        frame = frame.tb_next
    return False


def is_outage(error: BaseException | None) -> bool:
    """Whether `error`, or what it was raised from, is a store being unreachable or slow."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, _OUTAGES) or _torn_down(error):
            return True
        if isinstance(error, ResponseError) and str(error).startswith(_CLUSTER_MOMENTS):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False
