"""The interaction log the ranking models learn from: who engaged with what, when, how much.

One shape for both of its origins: Shutter's own events (domain/ranking/training.py reads likes,
comments, saves, shares and watches from Postgres) and a public log given to `shutter recommend`
as CSV rows `user,item,timestamp[,weight]`. Ids are opaque strings, coded here to dense indices.
A user's repeated engagement with one item is one row (the latest time, the summed weight), so
"seen" is a set and the models never count one pair twice.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from domain.ranking.items import Item


class LogError(ValueError):
    """A training log that cannot be used, with the line (1-based) that made it so, if any."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


@dataclass(frozen=True)
class Event:
    user: str
    item: str
    time: float
    weight: float = 1.0
    # The item's side facts, where the origin has them (Shutter's posts do; a CSV does not).
    author: str | None = None


@dataclass
class InteractionLog:
    """Rows sorted by (time, arrival); `users`/`items` are indices into `user_ids`/`item_ids`."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    weights: np.ndarray
    user_ids: list[str]
    item_ids: list[str]
    item_authors: np.ndarray  # author index per item, -1 when unknown
    author_ids: list[str] = field(default_factory=list)
    item_created: np.ndarray | None = None  # seconds, NaN when unknown; None: no item knows it
    item_tags: sp.csr_matrix | None = None  # items x tags
    tag_ids: list[str] = field(default_factory=list)
    item_kinds: np.ndarray | None = None  # kind index per item, -1 when unknown
    kind_ids: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def matrix(self) -> sp.csr_matrix:
        """Users x items, the weight of each pair (the input of co-engagement and factors)."""
        return sp.csr_matrix(
            (self.weights.astype(np.float32), (self.users, self.items)),
            shape=(self.n_users, self.n_items),
        )

    def subset(self, keep: np.ndarray) -> InteractionLog:
        """The same id space with only the rows where `keep` is true."""
        return InteractionLog(
            users=self.users[keep],
            items=self.items[keep],
            times=self.times[keep],
            weights=self.weights[keep],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            item_authors=self.item_authors,
            author_ids=self.author_ids,
            item_created=self.item_created,
            item_tags=self.item_tags,
            tag_ids=self.tag_ids,
            item_kinds=self.item_kinds,
            kind_ids=self.kind_ids,
        )

    def last_per_user(self) -> np.ndarray:
        """A mask of each user's newest row (the leave-last-out split)."""
        order = np.lexsort((np.arange(len(self)), self.users))  # by user, then by time order
        last = np.zeros(len(self), dtype=bool)
        if len(self):
            users = self.users[order]
            ends = np.flatnonzero(np.r_[users[1:] != users[:-1], True])
            last[order[ends]] = True
        return last

    def user_times(self) -> np.ndarray:
        """Each user's newest time (their "now"), -inf for users without rows."""
        out = np.full(self.n_users, -np.inf)
        np.maximum.at(out, self.users, self.times)
        return out


def build(events: Iterable[Event], catalog: Iterable[Item] = ()) -> InteractionLog:
    """Code the events' ids and merge each user's repeated rows for one item; the catalog's
    items come first, with their facts."""
    user_index: dict[str, int] = {}
    item_index: dict[str, int] = {}
    author_index: dict[str, int] = {}
    item_author: dict[int, int] = {}
    tag_index: dict[str, int] = {}
    kind_index: dict[str, int] = {}
    kinds: dict[int, int] = {}
    created: dict[int, float] = {}
    tag_rows: list[int] = []
    tag_cols: list[int] = []
    for entry in catalog:
        i = item_index.setdefault(entry.id, len(item_index))
        if entry.author is not None:
            item_author[i] = author_index.setdefault(entry.author, len(author_index))
        if entry.created is not None:
            created[i] = entry.created
        if entry.kind is not None:
            kinds[i] = kind_index.setdefault(entry.kind, len(kind_index))
        for tag in entry.tags:
            tag_rows.append(i)
            tag_cols.append(tag_index.setdefault(tag, len(tag_index)))
    merged: dict[tuple[int, int], list[float]] = {}
    for event in events:
        u = user_index.setdefault(event.user, len(user_index))
        i = item_index.setdefault(event.item, len(item_index))
        if event.author is not None:
            item_author[i] = author_index.setdefault(event.author, len(author_index))
        row = merged.get((u, i))
        if row is None:
            merged[(u, i)] = [event.time, event.weight, float(len(merged))]
        else:
            row[0] = max(row[0], event.time)
            row[1] += event.weight
    n = len(merged)
    users = np.fromiter((k[0] for k in merged), dtype=np.int32, count=n)
    items = np.fromiter((k[1] for k in merged), dtype=np.int32, count=n)
    values = np.array(list(merged.values()), dtype=np.float64).reshape(n, 3)
    order = np.lexsort((values[:, 2], values[:, 0]))
    authors = np.full(len(item_index), -1, dtype=np.int32)
    for i, a in item_author.items():
        authors[i] = a
    item_created = None
    if created:
        item_created = np.full(len(item_index), np.nan)
        item_created[list(created)] = list(created.values())
    item_kinds = None
    if kinds:
        item_kinds = np.full(len(item_index), -1, dtype=np.int32)
        item_kinds[list(kinds)] = list(kinds.values())
    item_tags = None
    if tag_index:
        item_tags = sp.csr_matrix(
            (np.ones(len(tag_rows), dtype=np.float32), (tag_rows, tag_cols)),
            shape=(len(item_index), len(tag_index)),
        )
    return InteractionLog(
        users=users[order],
        items=items[order],
        times=values[order, 0],
        weights=values[order, 1].astype(np.float32),
        user_ids=list(user_index),
        item_ids=list(item_index),
        item_authors=authors,
        author_ids=list(author_index),
        item_created=item_created,
        item_tags=item_tags,
        tag_ids=list(tag_index),
        item_kinds=item_kinds,
        kind_ids=list(kind_index),
    )


def read_csv(path: Path) -> InteractionLog:
    """`user,item,timestamp[,weight]` rows; a header line is allowed. Errors name the line."""
    events: list[Event] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) not in (3, 4):
                raise LogError(
                    f"expected user,item,timestamp[,weight], got {len(row)} fields", line
                )
            user, item, stamp = (cell.strip() for cell in row[:3])
            try:
                time = float(stamp)
                weight = float(row[3]) if len(row) == 4 else 1.0
            except ValueError:
                if line == 1 and not events:
                    continue  # a header
                raise LogError("timestamp and weight must be numbers", line) from None
            if not user or not item:
                raise LogError("user and item must not be empty", line)
            if not (math.isfinite(time) and math.isfinite(weight)) or weight <= 0:
                raise LogError("timestamp must be finite and weight a positive number", line)
            events.append(Event(user, item, time, weight))
    if not events:
        raise LogError(f"{path} holds no interactions")
    return build(events)
