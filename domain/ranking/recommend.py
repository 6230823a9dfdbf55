"""`shutter recommend`: the server's candidate sources and ranker on a public interaction log.

Trains the same funnel (domain/ranking/ranker.py) on `user,item,timestamp[,weight]` rows and
writes each listed user's top K unseen items as `user,item,rank` (rank 1 is best). A listed
user the log does not know gets what is popular at the log's end (the cold-start answer) and is
counted in the summary. Deterministic for a seed.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from domain.ranking.log import InteractionLog, LogError, read_csv
from domain.ranking.ranker import Funnel


@dataclass
class Summary:
    users: int
    unknown_users: int
    items: int
    interactions: int
    seconds: float


def read_users(path: Path) -> list[str]:
    """The listed users, one per line, each once (blank lines skipped)."""
    with path.open(encoding="utf-8") as handle:
        users = list(dict.fromkeys(line.strip() for line in handle if line.strip()))
    if not users:
        raise LogError(f"{path} lists no users")
    return users


def popular_at_end(log: InteractionLog) -> np.ndarray:
    """Items by engagement in the log's last 30 days (its end, not today), then all time."""
    recent = log.times >= log.times.max() - 30 * 86_400
    score = np.bincount(log.items[recent], minlength=log.n_items) * float(len(log) + 1)
    score = score + np.bincount(log.items, minlength=log.n_items)
    return np.argsort(-score, kind="stable")


def recommend(log: InteractionLog, users: list[str], k: int, seed: int = 0) -> dict[str, list[str]]:
    funnel = Funnel(seed=seed)
    funnel.fit(log)
    index = {u: n for n, u in enumerate(log.user_ids)}
    known = np.array([index[u] for u in users if u in index], dtype=np.int64)
    picks = dict(zip(known.tolist(), funnel.recommend(known, k), strict=True))
    fallback = popular_at_end(log)
    seen = funnel.seen
    out: dict[str, list[str]] = {}
    for user in users:
        n = index.get(user)
        items = list(picks[n]) if n is not None else []
        if len(items) < k:  # too few candidates: fill with what is popular, unseen
            have = set(items) | (set(seen[n].indices.tolist()) if n is not None else set())
            items += [int(i) for i in fallback if int(i) not in have][: k - len(items)]
        out[user] = [log.item_ids[int(i)] for i in items[:k]]
    return out


def run(train: Path, users_path: Path, k: int, out: Path, seed: int = 0) -> Summary:
    if k < 1:
        raise LogError("--k must be at least 1")
    started = time.perf_counter()
    log = read_csv(train)
    users = read_users(users_path)
    known = set(log.user_ids)
    recs = recommend(log, users, k, seed)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user", "item", "rank"])
        for user in users:
            for rank, item in enumerate(recs[user], start=1):
                writer.writerow([user, item, rank])
    return Summary(
        users=len(users),
        unknown_users=sum(1 for u in users if u not in known),
        items=log.n_items,
        interactions=len(log),
        seconds=time.perf_counter() - started,
    )
