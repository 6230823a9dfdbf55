"""Loaders primed with values read already answer from them, without a batch call."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from resolvers.loaders import Loaders, PrimedCache


def counting_loader() -> tuple[DataLoader[int, str], list[list[int]]]:
    calls: list[list[int]] = []

    async def load(keys: Sequence[int]) -> list[str]:
        calls.append(list(keys))
        return [f"loaded {key}" for key in keys]

    return DataLoader(load, cache_map=PrimedCache()), calls


async def test_primed_values_are_answered_without_a_batch() -> None:
    loader, calls = counting_loader()
    Loaders.prime(loader, {1: "primed 1", 2: "primed 2"})

    assert await loader.load_many([1, 2, 3]) == ["primed 1", "primed 2", "loaded 3"]
    assert calls == [[3]]
    assert await loader.load(1) == "primed 1"  # the same answer again, still no batch
    assert calls == [[3]]


async def test_priming_does_not_replace_what_was_loaded_or_cleared() -> None:
    loader, calls = counting_loader()
    assert await loader.load(1) == "loaded 1"
    Loaders.prime(loader, {1: "primed 1", 2: "primed 2"})
    assert await loader.load(1) == "loaded 1"  # loaded first: kept, as prime_many does

    loader.clear(2)  # forgotten after a write
    assert await loader.load(2) == "loaded 2"
    loader.clear_all()
    assert await loader.load(1) == "loaded 1"
    assert calls == [[1], [2], [1]]
