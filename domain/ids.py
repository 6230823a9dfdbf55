"""64-bit, time-ordered ids in Instagram's scheme.

    | 41 bits: ms since SHUTTER_EPOCH | 13 bits: generator slot | 10 bits: sequence |

Sorting by id sorts by creation time (to the millisecond), cursors can be plain ids, and any
process makes ids without asking anyone: each process claims one of the 8,192 slots once at start
(an INCR in Redis, see `claim_slot`) and then counts its own sequence within each millisecond.
41 bits of milliseconds last until the year 2095.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from redis.asyncio import Redis

SHUTTER_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SLOT_BITS = 13
SEQUENCE_BITS = 10
MAX_SLOT = (1 << SLOT_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
SLOT_KEY = "shutter:idgen:slot"
MAX_ID = (1 << 63) - 1  # above every id: where a newest-first page with no cursor starts


class IdGenerator:
    def __init__(self, slot: int) -> None:
        if not 0 <= slot <= MAX_SLOT:
            raise ValueError(f"id generator slot must be within 0..{MAX_SLOT}, got {slot}")
        self.slot = slot
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now = _now_ms()
            if now < self._last_ms:
                # The clock stepped back (NTP): wait it out rather than risk a repeated id.
                time.sleep((self._last_ms - now) / 1000)
                now = _now_ms()
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:  # 1,024 ids in this millisecond: take the next one
                    while now <= self._last_ms:
                        now = _now_ms()
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - SHUTTER_EPOCH_MS) << (SLOT_BITS + SEQUENCE_BITS))
                | (self.slot << SEQUENCE_BITS)
                | self._sequence
            )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def id_created_at(id_: int) -> datetime:
    """When an id was made, recovered from its top 41 bits."""
    ms = (id_ >> (SLOT_BITS + SEQUENCE_BITS)) + SHUTTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def min_id_at(moment: datetime) -> int:
    """The smallest id that could have been made at `moment`; for time-range scans by id."""
    ms = int(moment.timestamp() * 1000) - SHUTTER_EPOCH_MS
    return max(ms, 0) << (SLOT_BITS + SEQUENCE_BITS)


async def claim_slot(redis: Redis) -> int:
    """Take the next generator slot; 8,192 process starts pass before a slot comes round again."""
    return int(await redis.incr(SLOT_KEY)) & MAX_SLOT


_generator: IdGenerator | None = None


def install_generator(generator: IdGenerator) -> None:
    global _generator
    _generator = generator


def next_id() -> int:
    if _generator is None:
        raise RuntimeError(
            "the id generator is not set up: the process must call config.runtime.start() "
            "(which claims a slot) before it creates rows"
        )
    return _generator.next_id()
