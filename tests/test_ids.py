from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from domain.ids import MAX_SLOT, IdGenerator, claim_slot, id_created_at, min_id_at


def test_ids_are_unique_and_increase_within_one_generator() -> None:
    generator = IdGenerator(slot=7)
    ids = [generator.next_id() for _ in range(20_000)]  # many ids per millisecond
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_ids_from_two_slots_never_collide() -> None:
    a, b = IdGenerator(slot=1), IdGenerator(slot=2)
    ids = [g.next_id() for _ in range(5_000) for g in (a, b)]
    assert len(set(ids)) == len(ids)


def test_an_id_carries_its_creation_time_and_fits_in_a_signed_bigint() -> None:
    before = datetime.now(UTC)
    new_id = IdGenerator(slot=MAX_SLOT).next_id()
    after = datetime.now(UTC)
    assert 0 < new_id < 2**63
    assert before - timedelta(milliseconds=1) <= id_created_at(new_id) <= after
    assert min_id_at(before - timedelta(seconds=1)) < new_id


def test_ids_sort_by_creation_time_across_generators() -> None:
    first = IdGenerator(slot=MAX_SLOT).next_id()
    time.sleep(0.002)
    second = IdGenerator(slot=0).next_id()
    assert first < second


def test_slot_is_checked() -> None:
    with pytest.raises(ValueError, match="slot"):
        IdGenerator(slot=MAX_SLOT + 1)


async def test_each_process_claims_a_different_slot(redis: Redis) -> None:
    slots = {await claim_slot(redis) for _ in range(50)}
    assert len(slots) == 50
