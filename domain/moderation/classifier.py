"""A spam classifier learned from moderators' decisions: TF-IDF of words and word pairs, then a
logistic regression (scikit-learn), over the text of every decided case (REMOVE and
SUSPEND_AUTHOR: spam or abuse; DISMISS: fine).

The `default` worker retrains it by a cron job once there are enough decisions of both kinds;
a new model is kept (as a pickled pipeline, in `spam_models`) only when it scores at least as
well on the newest fifth of the decisions, held out, as the one served. Every process serves
the newest model, looking for a new one at most once a minute; with no model the score is
None. The score is recorded on the case and, for a new account, holds content past HOLD_AT.
"""

from __future__ import annotations

import asyncio
import io
import pickle
import time
from dataclasses import dataclass
from typing import Any

from tortoise import connections

from domain.moderation.models import SpamModel

MIN_PER_CLASS = 5
HOLD_AT = 0.9
RECHECK_SECONDS = 60.0


@dataclass(frozen=True)
class Trained:
    model_id: int | None  # None: not kept (too few decisions, or not better)
    samples: int
    accuracy: float | None


async def _decisions() -> list[tuple[str, int]]:
    rows = await connections.get("default").execute_query_dict(
        "/* spam.decisions */ SELECT excerpt, resolution FROM moderation_cases"
        " WHERE NOT open AND resolution IS NOT NULL AND excerpt <> '' ORDER BY activity_id",
    )
    return [(str(r["excerpt"]), 0 if r["resolution"] == "DISMISS" else 1) for r in rows]


def _fit(texts: list[str], labels: list[int]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(class_weight="balanced", max_iter=1_000),
    )
    pipeline.fit(texts, labels)
    return pipeline


def _accuracy(model: Any, texts: list[str], labels: list[int]) -> float:
    predicted = model.predict(texts)
    return float(sum(int(p) == y for p, y in zip(predicted, labels, strict=True)) / len(labels))


async def train() -> Trained:
    """Train on all decisions but the newest fifth, validate on those; keep the model when it
    does at least as well there as the served one (then refit on everything)."""
    decisions = await _decisions()
    labels = [y for _, y in decisions]
    if min(labels.count(0), labels.count(1)) < MIN_PER_CLASS:
        return Trained(None, len(decisions), None)
    cut = max(1, len(decisions) * 4 // 5)
    train_set, held_out = decisions[:cut], decisions[cut:] or decisions[-1:]
    if len({y for _, y in train_set}) < 2:
        return Trained(None, len(decisions), None)
    texts, ys = [t for t, _ in held_out], [y for _, y in held_out]
    candidate = await asyncio.to_thread(_fit, [t for t, _ in train_set], [y for _, y in train_set])
    accuracy = _accuracy(candidate, texts, ys)
    served = await _newest()
    if served is not None and _accuracy(served[1], texts, ys) > accuracy:
        return Trained(None, len(decisions), accuracy)
    final = await asyncio.to_thread(_fit, [t for t, _ in decisions], labels)
    buffer = io.BytesIO()
    pickle.dump(final, buffer)
    row = await SpamModel.create(samples=len(decisions), accuracy=accuracy, blob=buffer.getvalue())
    return Trained(row.id, len(decisions), accuracy)


async def _newest() -> tuple[int, Any] | None:
    row = await SpamModel.all().order_by("-id").first()
    if row is None:
        return None
    return row.id, pickle.loads(row.blob)  # noqa: S301 - see the import


class Scorer:
    """The newest model, per process, looked for again at most once a minute."""

    def __init__(self) -> None:
        self._model: tuple[int, Any] | None = None
        self._checked = 0.0

    async def score(self, text: str) -> float | None:
        now = time.monotonic()
        if now - self._checked > RECHECK_SECONDS:
            self._checked = now
            rows = await connections.get("default").execute_query_dict(
                "/* spam.newest_model */ SELECT max(id) AS id FROM spam_models"
            )
            newest = rows[0]["id"]
            if newest is None:
                self._model = None
            elif self._model is None or self._model[0] != newest:
                self._model = await _newest()
        if self._model is None or not text.strip():
            return None
        return float(self._model[1].predict_proba([text])[0][1])

    def forget(self) -> None:
        """Look for a new model on the next score (after a training, in tests and tools)."""
        self._checked = 0.0


SCORER = Scorer()
