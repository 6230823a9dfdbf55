"""Candidate sources: each one scores every item of the log for a batch of viewers.

A source is fitted on an interaction log and then answers `scores(users, now)`, a dense
viewers x items array where higher means "more likely to engage"; zero means the source has
nothing to say. The ranker (domain/ranking/ranker.py) takes each source's top items as
candidates, tagged with the source that produced them, and every source's score as features.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from domain.ranking.log import InteractionLog


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
