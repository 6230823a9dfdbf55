"""The served ranking model of this process, hot-loaded: no restart when a new one is published.

`ServedModel.current()` looks at `ranking:model` in Redis at most every CHECK_SECONDS; when it
names another version, the file is read from object storage and loaded off the event loop, then
swapped in whole (a request holds the model it started with). A file that is corrupt or of an
incompatible format is refused: the old model keeps serving, the failure is logged, counted in
this process's `shutter_ranking_model_load_failures_total` and in Redis
(`ranking:model:failures`, shown by every API process's /metrics), and that version is not
tried again. An outage while fetching is not the file's fault: it is tried again at the next
check.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from prometheus_client import Counter
from redis.asyncio import Redis

from domain.ranking.items import Item

if TYPE_CHECKING:
    from domain.ranking.ranker import Funnel

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
MODEL_KEY = "ranking:model"  # the served model: {version, key, auc, trained_at, ...}
MODEL_PREFIX = "models/ranking/"  # in object storage, private
FAILURES_KEY = "ranking:model:failures"
LOAD_FAILURES = Counter(
    "shutter_ranking_model_load_failures_total",
    "Ranking model files this process refused (corrupt or of an incompatible format)",
)


@dataclass(frozen=True)
class Model:
    funnel: Funnel
    version: str
    trained_at: float  # seconds since the epoch
    users: dict[str, int]
    items: dict[str, int]

    def user_index(self, user_id: int) -> int | None:
        return self.users.get(str(user_id))

    def item_ids(self, indices: np.ndarray) -> list[int]:
        names = self.funnel.log.item_ids
        return [int(names[i]) for i in indices.tolist()]

    def author_affinity(self, user_id: int, author_ids: Sequence[int]) -> dict[int, float]:
        """The share of the viewer's engagements that went to each of these authors, as the
        model learned it (empty for a viewer it does not know)."""
        viewer = self.user_index(user_id)
        table = self.funnel.author_table(np.array([viewer])) if viewer is not None else None
        if table is None:
            return {}
        out = {}
        for author in author_ids:
            column = self.funnel.author_index.get(str(author))
            if column is not None and column < table.shape[1] and table[0, column] > 0:
                out[author] = float(table[0, column])
        return out

    def values(self, user_id: int, posts: Sequence[Item]) -> dict[str, float] | None:
        """The model's value of each post for the viewer (keyed by post id), posts it knows
        and posts newer than it alike; None when it cannot judge: a viewer it does not know,
        or no trained ranker yet (the callers' own heuristics are better than its cold start).
        """
        viewer = self.user_index(user_id)
        if viewer is None or not self.funnel.models or not posts:
            return None
        funnel = self.funnel
        funnel.now[viewer] = time.time()
        known = [p for p in posts if p.id in self.items]
        new = [p for p in posts if p.id not in self.items]
        indices = np.array([self.items[p.id] for p in known], dtype=np.int64)
        rows = funnel.viewer_rows(viewer, indices, new, include_seen=True)
        values = funnel.value(rows)
        return {p.id: float(v) for p, v in zip([*known, *new], values, strict=True)}


async def served_info(redis: Redis) -> dict[str, Any] | None:
    raw = await cast(Any, redis.get(MODEL_KEY))
    return json.loads(raw) if raw else None


def _build(blob: bytes) -> Model:
    from domain.ranking import artifact  # the models' libraries, loaded with the first model

    funnel, meta = artifact.load(blob)
    return Model(
        funnel=funnel,
        version=str(meta["version"]),
        trained_at=float(np.nanmax(funnel.now)) if funnel.now.size else 0.0,
        users={u: n for n, u in enumerate(funnel.log.user_ids)},
        items={i: n for n, i in enumerate(funnel.log.item_ids)},
    )


class ServedModel:
    def __init__(self, redis: Redis, store: Any, *, check_seconds: float = CHECK_SECONDS) -> None:
        self._redis = redis
        self._every = check_seconds
        self._store = store
        self._model: Model | None = None
        self._checked = -float("inf")
        self._refused: str | None = None
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[Model | None] | None = None

    async def current(self, *, wait: bool = True) -> Model | None:
        """The served model. When a check is due, `wait` does it first (a worker ranks with
        the newest model); without, it starts in the background and the request goes on with
        what is loaded (loading a model must never hold up a request)."""
        if time.monotonic() - self._checked < self._every:
            return self._model
        if not wait:
            if self._background is None or self._background.done():
                self._background = asyncio.create_task(self.current(), name="ranking-model")
            return self._model
        async with self._lock:
            if time.monotonic() - self._checked >= self._every:
                try:
                    await self._refresh()
                except Exception as error:  # the model only improves an order: never fail for it
                    log.warning("ranking model: cannot check for a new one (%r)", error)
                self._checked = time.monotonic()
        return self._model

    async def _refresh(self) -> None:
        info = await served_info(self._redis)
        if info is None:
            return
        version = info.get("version")
        if self._model is not None and version == self._model.version:
            return
        if version == self._refused:
            return
        from domain.ranking.artifact import ArtifactError

        try:
            blob = await self._store.get(info["key"])
        except (FileNotFoundError, KeyError) as error:
            await self._refuse(version, f"its file is missing ({error!r})")
            return
        try:
            model = await asyncio.to_thread(_build, blob)
        except ArtifactError as error:
            await self._refuse(version, str(error))
            return
        self._model = model
        log.info("ranking model %s loaded", version)

    async def _refuse(self, version: str | None, why: str) -> None:
        self._refused = version
        LOAD_FAILURES.inc()
        await self._redis.incr(FAILURES_KEY)
        log.error("ranking model %s refused, %s keeps serving: %s", version, self.version, why)

    @property
    def version(self) -> str | None:
        return self._model.version if self._model else None
