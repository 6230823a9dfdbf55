"""Hashtags the viewer engages with: a viewer's profile is the tags of what they engaged with
(the newest weighing most, RECENCY per step back, over their last HISTORY engagements), and an
item scores by how much of its tags the profile holds. Works for items nobody engaged with yet,
which is what a new post is. A log without tags scores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from domain.ranking.log import InteractionLog, Item


@dataclass
class Hashtags:
    name: str = "hashtags"
    recency: float = 0.97
    history: int = 200

    def fit(self, log: InteractionLog) -> None:
        self.n_items = log.n_items
        tags = log.item_tags
        self.tag_index = {t: n for n, t in enumerate(log.tag_ids)}
        if tags is None or not len(log):
            self.profiles = sp.csr_matrix((log.n_users, 0), dtype=np.float32)
            self.tags = sp.csr_matrix((log.n_items, 0), dtype=np.float32)
            return
        order = np.lexsort((-np.arange(len(log)), log.users))  # by user, newest first
        users = log.users[order]
        starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
        position = np.arange(users.size) - np.repeat(starts, np.diff(np.r_[starts, users.size]))
        keep = position < self.history
        weights = (self.recency**position)[keep].astype(np.float32)
        engaged = sp.csr_matrix(
            (weights, (users[keep], log.items[order][keep])), shape=(log.n_users, log.n_items)
        )
        profiles = (engaged @ tags).tocsr()
        norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(axis=1)).ravel())
        self.profiles = (sp.diags(1.0 / np.maximum(norms, 1e-9)) @ profiles).astype(np.float32)
        item_norms = np.sqrt(np.asarray(tags.sum(axis=1)).ravel())
        self.tags = (sp.diags(1.0 / np.maximum(item_norms, 1e-9)) @ tags).tocsr()

    def state(self) -> dict[str, np.ndarray]:
        p, t = self.profiles.tocsr(), self.tags.tocsr()
        return {
            "profiles_data": p.data, "profiles_indices": p.indices, "profiles_indptr": p.indptr,
            "tags_data": t.data, "tags_indices": t.indices, "tags_indptr": t.indptr,
            "shape": np.array([p.shape[0], t.shape[0], t.shape[1]]),
            "tag_ids": np.array(sorted(self.tag_index, key=self.tag_index.__getitem__), dtype=str),
        }  # fmt: skip

    def restore(self, state: dict[str, np.ndarray]) -> None:
        users, items, tags = (int(x) for x in state["shape"])
        self.n_items = items
        self.tag_index = {str(t): n for n, t in enumerate(state["tag_ids"].tolist())}
        self.profiles = sp.csr_matrix(
            (state["profiles_data"], state["profiles_indices"], state["profiles_indptr"]),
            shape=(users, tags),
        )
        self.tags = sp.csr_matrix(
            (state["tags_data"], state["tags_indices"], state["tags_indptr"]), shape=(items, tags)
        )

    def score_new(self, user: int, now: float, items: Sequence[Item]) -> np.ndarray:
        """Items the model has never seen, by their tags (the known ones)."""
        profile = self.profiles[user].toarray().ravel() if self.profiles.shape[1] else None
        out = np.zeros(len(items), dtype=np.float32)
        if profile is None:
            return out
        for n, item in enumerate(items):
            known = [self.tag_index[t] for t in item.tags if t in self.tag_index]
            if item.tags:
                out[n] = profile[known].sum() / np.sqrt(len(item.tags)) if known else 0.0
        return out

    def scores(self, users: np.ndarray, now: np.ndarray) -> np.ndarray:
        if self.tags.shape[1] == 0:
            return np.zeros((len(users), self.n_items), dtype=np.float32)
        return np.asarray((self.profiles[users] @ self.tags.T).todense(), dtype=np.float32)
