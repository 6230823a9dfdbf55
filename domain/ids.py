"""64-bit, time-ordered ids in Instagram's scheme.

    | 41 bits: ms since SHUTTER_EPOCH | 13 bits: generator slot | 10 bits: sequence |

Sorting by id sorts by creation time (to the millisecond), cursors can be plain ids, and any
process makes ids without asking anyone: each process leases one of the 8,192 slots at start
and then counts its own sequence within each millisecond. 41 bits of milliseconds last until
the year 2095.

A slot is a lease in Postgres (`id_slots`: one row per slot held, with an expiry by the
database's clock), renewed every LEASE_RENEW_SECONDS, so no two live processes ever hold the
same slot, whatever happens to Redis. A process that cannot renew (Postgres away longer than
the lease) stops making ids before its lease can have ended (`SlotLeaseLost`, an outage to its
callers) and makes them again once it holds a slot.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

from tortoise import connections, fields
from tortoise.models import Model

log = logging.getLogger(__name__)

SHUTTER_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SLOT_BITS = 13
SEQUENCE_BITS = 10
MAX_SLOT = (1 << SLOT_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
LEASE_SECONDS = 60
LEASE_RENEW_SECONDS = 15
# Stop making ids this long before the lease could end by the database's clock (clocks drift).
LEASE_MARGIN_SECONDS = 10
MAX_ID = (1 << 63) - 1  # above every id: where a newest-first page with no cursor starts


def parse_id(text: str) -> int | None:
    """The number in `text` when it can be an id (or a cursor's position): ASCII digits only
    (`isdigit` alone takes '²'), inside the signed 64-bit range of every id column."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if number <= MAX_ID else None


class SlotLeaseLost(ConnectionError):
    """This process could not renew its generator slot in time: no ids until it holds one."""


class IdSlot(Model):
    """A generator slot leased to a process until `expires_at` (the database's clock)."""

    slot = fields.IntField(primary_key=True, generated=False)
    holder = fields.CharField(max_length=120)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "id_slots"


class IdGenerator:
    def __init__(self, slot: int, *, valid_until: float = float("inf")) -> None:
        """`valid_until` (time.monotonic()) is when the slot's lease may end: no ids after."""
        if not 0 <= slot <= MAX_SLOT:
            raise ValueError(f"id generator slot must be within 0..{MAX_SLOT}, got {slot}")
        self.slot = slot
        self.valid_until = valid_until
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        if time.monotonic() >= self.valid_until:
            raise SlotLeaseLost(
                f"the lease of id generator slot {self.slot} could not be renewed in time"
            )
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


# A free slot (never leased, or its lease over), picked at random so that processes starting
# together seldom want the same one; taken only if nobody holds it by the time the row is locked.
_LEASE_SQL = """/* ids.lease_slot */
INSERT INTO id_slots (slot, holder, expires_at)
SELECT s, $1, now() + make_interval(secs => $2)
FROM generate_series(0, $3::int) AS s
WHERE NOT EXISTS (SELECT 1 FROM id_slots l WHERE l.slot = s AND l.expires_at >= now())
ORDER BY random() LIMIT 1
ON CONFLICT (slot) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE id_slots.expires_at < now()
RETURNING slot"""


async def lease_slot(holder: str, *, seconds: float = LEASE_SECONDS) -> IdGenerator:
    """A generator on a slot leased to `holder` for `seconds`."""
    db = connections.get("default")
    for _ in range(20):
        started = time.monotonic()
        rows = await db.execute_query_dict(_LEASE_SQL, [holder, seconds, MAX_SLOT])
        if rows:
            return IdGenerator(
                int(rows[0]["slot"]), valid_until=started + seconds - LEASE_MARGIN_SECONDS
            )
    raise RuntimeError(f"no free id generator slot: all {MAX_SLOT + 1} are leased")


async def renew_slot(generator: IdGenerator, holder: str, *, seconds: float) -> bool:
    """Extend the lease; False when the slot is no longer this holder's."""
    started = time.monotonic()
    rows = await connections.get("default").execute_query_dict(
        "/* ids.renew_slot */ UPDATE id_slots SET expires_at = now() + make_interval(secs => $3)"
        " WHERE slot = $1 AND holder = $2 RETURNING slot",
        [generator.slot, holder, seconds],
    )
    if rows:
        generator.valid_until = started + seconds - LEASE_MARGIN_SECONDS
    return bool(rows)


async def keep_slot(
    holder: str, *, seconds: float = LEASE_SECONDS, every: float = LEASE_RENEW_SECONDS
) -> None:
    """Renew the installed generator's lease for as long as the process runs (a task of the
    runtime); when it was lost, lease another slot and make ids on that one."""
    while True:
        await asyncio.sleep(every)
        generator = _installed()
        try:
            if not await renew_slot(generator, holder, seconds=seconds):
                log.warning("id generator slot %d was lost; leasing another", generator.slot)
                install_generator(await lease_slot(holder, seconds=seconds))
        except Exception as error:  # Postgres away: try again; ids stop when the lease may end
            log.warning("cannot renew id generator slot %d: %s", generator.slot, error)


async def release_slot(holder: str) -> None:
    """Give the slot back (the process is stopping): no more ids from it."""
    generator = _installed()
    generator.valid_until = float("-inf")
    await connections.get("default").execute_query(
        "/* ids.release_slot */ DELETE FROM id_slots WHERE slot = $1 AND holder = $2",
        [generator.slot, holder],
    )


_generator: IdGenerator | None = None


def install_generator(generator: IdGenerator) -> None:
    global _generator
    _generator = generator


def _installed() -> IdGenerator:
    if _generator is None:
        raise RuntimeError(
            "the id generator is not set up: the process must call config.runtime.start() "
            "(which leases a slot) before it creates rows"
        )
    return _generator


def next_id() -> int:
    return _installed().next_id()
