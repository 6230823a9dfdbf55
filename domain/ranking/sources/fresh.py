"""Fresh: items made just before the viewer's present, the newest first (HALF_LIFE decay of
their age). Items made after it, or of unknown age, score nothing. A log without item times
(a public log of ratings) scores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from domain.ranking.log import InteractionLog, Item


@dataclass
class Fresh:
    name: str = "fresh"
    half_life_seconds: float = 86_400.0

    def fit(self, log: InteractionLog) -> None:
        created = log.item_created
        self.created = (
            created.astype(np.float64) if created is not None else np.full(log.n_items, np.nan)
        )

    def state(self) -> dict[str, np.ndarray]:
        return {"created": self.created}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.created = state["created"]

    def score_new(self, user: int, now: float, items: Sequence[Item]) -> np.ndarray:
        """Items the model has never seen, by their age."""
        created = np.array(
            [np.nan if i.created is None else i.created for i in items], dtype=np.float64
        )
        return self.scores(np.array([user]), np.array([now]), created)[0]

    def scores(
        self, users: np.ndarray, now: np.ndarray, created: np.ndarray | None = None
    ) -> np.ndarray:
        made = self.created if created is None else created
        age = now[:, None] - made[None, :]
        with np.errstate(invalid="ignore"):
            out = np.where(age >= 0, 0.5 ** (age / self.half_life_seconds), 0.0)
        return np.nan_to_num(out).astype(np.float32)
