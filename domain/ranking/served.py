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
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from prometheus_client import Counter
from redis.asyncio import Redis

from domain.ranking import artifact
from domain.ranking.ranker import Funnel
from domain.ranking.training import MODEL_KEY

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
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


def _build(blob: bytes) -> Model:
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

    async def current(self) -> Model | None:
        if time.monotonic() - self._checked < self._every:
            return self._model
        async with self._lock:
            if time.monotonic() - self._checked >= self._every:
                await self._refresh()
                self._checked = time.monotonic()
        return self._model

    async def _refresh(self) -> None:
        raw = await cast(Any, self._redis.get(MODEL_KEY))
        if not raw:
            return
        info = json.loads(raw)
        version = info.get("version")
        if self._model is not None and version == self._model.version:
            return
        if version == self._refused:
            return
        blob = await self._store.get(info["key"])
        try:
            model = await asyncio.to_thread(_build, blob)
        except artifact.ArtifactError as error:
            self._refused = version
            LOAD_FAILURES.inc()
            await self._redis.incr(FAILURES_KEY)
            log.error(
                "ranking model %s refused, %s keeps serving: %s", version, self.version, error
            )
            return
        self._model = model
        log.info("ranking model %s loaded", version)

    @property
    def version(self) -> str | None:
        return self._model.version if self._model else None
