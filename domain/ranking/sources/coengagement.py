"""Co-engagement, item to item: people who engaged with this also engaged with that.

Two items are neighbours when one user engaged with both, the more so the closer together in
that user's history (a pair `lag` engagements apart weighs 1/lag, up to WINDOW), normalised by
both items' popularity (cosine-like), so a hit everybody watched is not everyone's neighbour.
A viewer's score for an item sums its neighbourhood with their most recent engagements, the
newest weighing most (RECENCY per step back): what people do next depends most on what they
did last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from domain.ranking.log import InteractionLog


@dataclass
class CoEngagement:
    name: str = "coengagement"
    window: int = 30
    recency: float = 0.85
    history: int = 30
    neighbours: int = 200

    def fit(self, log: InteractionLog) -> None:
        self.n_items = log.n_items
        order = np.lexsort((np.arange(len(log)), log.users))  # by user, in time order
        users, items = log.users[order], log.items[order]
        n = log.n_items
        # One lag at a time, summed as it goes: memory grows with distinct pairs, not rows.
        pairs = sp.csr_matrix((n, n), dtype=np.float32)
        for lag in range(1, min(self.window, max(len(users) - 1, 0)) + 1):
            same = users[lag:] == users[:-lag]
            a, b = items[:-lag][same], items[lag:][same]
            w = np.full(a.shape[0], 1.0 / lag, dtype=np.float32)
            pairs = pairs + sp.csr_matrix(
                (np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n), dtype=np.float32
            )
        counts = np.bincount(log.items, minlength=n).astype(np.float32)
        norm = 1.0 / np.sqrt(np.maximum(counts, 1.0))
        similar = sp.diags(norm) @ pairs @ sp.diags(norm)
        self.similar = _keep_top(similar.tocsr(), self.neighbours)
        # Each user's recent history, newest first, for scoring.
        self.recent: list[np.ndarray] = [np.empty(0, dtype=np.int32)] * log.n_users
        ends = np.flatnonzero(np.r_[users[1:] != users[:-1], True]) if len(users) else users
        start = 0
        for end in ends.tolist():
            self.recent[users[end]] = items[start : end + 1][::-1][: self.history].copy()
            start = end + 1

    def state(self) -> dict[str, np.ndarray]:
        lengths = np.array([r.size for r in self.recent], dtype=np.int64)
        recent = np.concatenate(self.recent) if self.recent else np.empty(0, np.int32)
        m = self.similar
        return {
            "similar_data": m.data, "similar_indices": m.indices, "similar_indptr": m.indptr,
            "recent": recent, "recent_lengths": lengths,
        }  # fmt: skip

    def restore(self, state: dict[str, np.ndarray]) -> None:
        n = state["similar_indptr"].size - 1
        self.n_items = n
        self.similar = sp.csr_matrix(
            (state["similar_data"], state["similar_indices"], state["similar_indptr"]),
            shape=(n, n),
        )
        self.recent = np.split(state["recent"], np.cumsum(state["recent_lengths"])[:-1])

    def scores(self, users: np.ndarray, now: np.ndarray) -> np.ndarray:
        weights = sp.lil_matrix((len(users), self.n_items), dtype=np.float32)
        for row, user in enumerate(users):
            recent = self.recent[user]
            if recent.size:
                weights.rows[row] = []
                decay = self.recency ** np.arange(recent.size, dtype=np.float32)
                merged: dict[int, float] = {}
                for item, w in zip(recent.tolist(), decay.tolist(), strict=True):
                    merged[item] = merged.get(item, 0.0) + w
                keys = sorted(merged)
                weights.rows[row] = keys
                weights.data[row] = [merged[k] for k in keys]
        return np.asarray((weights.tocsr() @ self.similar).todense(), dtype=np.float32)

    def last_item_scores(self, users: np.ndarray) -> np.ndarray:
        """Only the newest engagement's neighbours (a feature: what follows what)."""
        last = np.array([r[0] if r.size else -1 for r in (self.recent[u] for u in users)])
        out = np.zeros((len(users), self.n_items), dtype=np.float32)
        has = last >= 0
        if has.any():
            out[has] = np.asarray(self.similar[last[has]].todense())
        return out


def _keep_top(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's k largest entries (the item's nearest neighbours)."""
    matrix.setdiag(0)
    matrix.eliminate_zeros()
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    keep = np.zeros(data.shape[0], dtype=bool)
    for row in range(matrix.shape[0]):
        lo, hi = indptr[row], indptr[row + 1]
        if hi - lo <= k:
            keep[lo:hi] = True
        else:
            keep[lo + np.argpartition(-data[lo:hi], k)[:k]] = True
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(indptr))
    return sp.csr_matrix((data[keep], (rows[keep], indices[keep])), shape=matrix.shape)
