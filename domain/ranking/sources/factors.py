"""Embeddings of viewers and items by matrix factorisation of the engagement log (implicit's
alternating least squares, on the CPU, one thread, seeded: the same log gives the same model).

A viewer's score for an item is the dot product of their factors; items nobody engaged with
and viewers with no history score zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from domain.ranking.log import InteractionLog


@dataclass
class Factors:
    name: str = "factors"
    factors: int = 64
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 2.0
    seed: int = 0

    def fit(self, log: InteractionLog) -> None:
        # implicit runs its own loop; BLAS threads under it only contend (and it warns).
        with threadpool_limits(1, "blas"):
            self._fit(log)

    def _fit(self, log: InteractionLog) -> None:
        model = AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            iterations=self.iterations,
            alpha=self.alpha,
            random_state=self.seed,
            num_threads=1,
            calculate_training_loss=False,
        )
        matrix = log.matrix()
        if matrix.nnz:
            model.fit(matrix, show_progress=False)
            self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
            self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        else:
            self.user_factors = np.zeros((log.n_users, self.factors), dtype=np.float32)
            self.item_factors = np.zeros((log.n_items, self.factors), dtype=np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors, self.item_factors = state["user_factors"], state["item_factors"]

    def scores(self, users: np.ndarray, now: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T
