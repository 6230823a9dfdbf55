from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from config.runtime import Runtime
from domain.ids import (
    MAX_SLOT,
    IdGenerator,
    IdSlot,
    SlotLeaseLost,
    id_created_at,
    lease_slot,
    min_id_at,
    renew_slot,
)


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


async def test_a_leased_slot_is_never_leased_again_while_held(runtime: Runtime) -> None:
    # given: fifty processes leasing at once
    holders = [f"test-{uuid.uuid4()}" for _ in range(50)]
    try:
        generators = await asyncio.gather(*(lease_slot(h, seconds=30) for h in holders))

        # then: fifty different slots, none the running test process's own
        slots = {g.slot for g in generators}
        assert len(slots) == 50
        own = await IdSlot.filter(holder=runtime._id_holder).values_list("slot", flat=True)
        assert not slots & set(own)
        # and a holder renews its own lease only
        assert await renew_slot(generators[0], holders[0], seconds=30)
        assert not await renew_slot(generators[0], holders[1], seconds=30)
    finally:
        await IdSlot.filter(holder__in=holders).delete()


async def test_an_expired_lease_is_taken_over_and_its_old_holder_stops(runtime: Runtime) -> None:
    # given: a lease that ended (its holder stopped renewing)
    old, new = f"test-{uuid.uuid4()}", f"test-{uuid.uuid4()}"
    try:
        stale = await lease_slot(old, seconds=30)
        await IdSlot.filter(slot=stale.slot).update(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )
        # when: another process leases while every other slot is held (leases that ended
        # elsewhere, a killed process's, are held again here)
        await IdSlot.filter(slot__not=stale.slot, expires_at__lt=datetime.now(UTC)).update(
            holder=new, expires_at=datetime.now(UTC) + timedelta(minutes=1)
        )
        others = await IdSlot.filter(slot__not=stale.slot).values_list("slot", flat=True)
        fillers = [
            IdSlot(slot=s, holder=new, expires_at=datetime.now(UTC) + timedelta(minutes=1))
            for s in set(range(MAX_SLOT + 1)) - set(others) - {stale.slot}
        ]
        await IdSlot.bulk_create(fillers)
        taken = await lease_slot(new, seconds=30)

        # then: it gets the expired slot, and the old holder cannot renew it
        assert taken.slot == stale.slot
        assert not await renew_slot(stale, old, seconds=30)
    finally:
        await IdSlot.filter(holder__in=[old, new]).delete()


def test_a_generator_whose_lease_may_have_ended_makes_no_ids() -> None:
    generator = IdGenerator(slot=3, valid_until=time.monotonic() + 0.05)
    generator.next_id()
    time.sleep(0.06)
    with pytest.raises(SlotLeaseLost):
        generator.next_id()
