"""Candidate sources: each one scores every item of the log for a batch of viewers.

A source is fitted on an interaction log and then answers `scores(users, now)`, a dense
viewers x items array where higher means "more likely to engage"; zero means the source has
nothing to say. A source that can judge an item the model has never seen (a post newer than
it) by its facts alone also has `score_new(user, now, items)`; `new_item_scores` is zero for
the others. The ranker (domain/ranking/ranker.py) takes each source's top items as
candidates, tagged with the source that produced them, and every source's score as features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from domain.ranking.log import InteractionLog, Item


class Source(Protocol):
    name: str

    def fit(self, log: InteractionLog) -> None: ...

    def scores(self, users: np.ndarray, now: np.ndarray) -> np.ndarray:
        """Viewers x items; `now` is each viewer's present moment (seconds)."""
        ...

    def state(self) -> dict[str, np.ndarray]:
        """What fitting learned, as arrays (domain/ranking/artifact.py stores them)."""
        ...

    def restore(self, state: dict[str, np.ndarray]) -> None: ...


def new_item_scores(source: Source, user: int, now: float, items: Sequence[Item]) -> np.ndarray:
    score_new = getattr(source, "score_new", None)
    if score_new is None:
        return np.zeros(len(items), dtype=np.float32)
    return np.asarray(score_new(user, now, items), dtype=np.float32)
