"""Popular now: engagement with each item in the time just before the viewer's present,
decaying by HALF_LIFE, so what is taking off outranks what was big a month ago. Binned by
BIN_SECONDS, so scoring is one row lookup per viewer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.ranking.log import InteractionLog


@dataclass
class PopularNow:
    name: str = "popular"
    half_life_seconds: float = 3 * 86_400.0
    bin_seconds: float = 86_400.0

    def fit(self, log: InteractionLog) -> None:
        self.n_items = log.n_items
        if not len(log):
            self.start, self.table = 0.0, np.zeros((1, log.n_items), dtype=np.float32)
            return
        self.start = float(log.times.min())
        bins = ((log.times - self.start) // self.bin_seconds).astype(np.int64)
        counts = np.zeros((int(bins.max()) + 1, log.n_items), dtype=np.float32)
        np.add.at(counts, (bins, log.items), 1.0)
        keep = 0.5 ** (self.bin_seconds / self.half_life_seconds)
        for b in range(1, counts.shape[0]):
            counts[b] += keep * counts[b - 1]
        self.table = counts

    def state(self) -> dict[str, np.ndarray]:
        return {"start": np.array([self.start]), "table": self.table}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.start, self.table = float(state["start"][0]), state["table"]
        self.n_items = self.table.shape[1]

    def scores(self, users: np.ndarray, now: np.ndarray) -> np.ndarray:
        bins = ((now - self.start) // self.bin_seconds).astype(np.int64)
        rows = self.table[np.clip(bins, 0, self.table.shape[0] - 1)]
        before = (bins < 0)[:, None]
        out = np.where(before, 0.0, rows).astype(np.float32)
        # Past the last bin, the counts go on decaying.
        gap = np.maximum(bins - (self.table.shape[0] - 1), 0).astype(np.float32)
        return out * (0.5 ** (gap * self.bin_seconds / self.half_life_seconds))[:, None]
