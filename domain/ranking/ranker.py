"""The funnel: candidates from every source, features, a gradient-boosted ranker, a value.

`Funnel.fit(log)` learns on a time split of the log itself, then fits the sources again on
the whole log (serving uses everything known):

- with impressions (what viewers were shown, and what came of it: Shutter's own log), the
  ranker learns from the newest IMPRESSION_SHARE of them, each a row labelled by its actions
  (no action: a negative), the sources fitted on the engagements before them;
- with engagements only (a public log), the sources are fitted on each viewer's history
  without their newest engagement, and the ranker learns which candidate that newest one was
  (a sample of the candidates not picked are the negatives).

One LightGBM model per action, on features of the (viewer, post) pair (`feature_names`):
each source's score and the post's rank in that source's list (so the model learns how far to
trust each source), the post's popularity, velocity and age, the viewer's activity, the
co-engagement with the viewer's last engagement, the viewer's affinity for the author and the
author's popularity, the post's kind and the viewer's share of engagement on that kind. A post
newer than the model is judged by its facts alone (`viewer_rows`).

A candidate's value is the weighted sum of its predicted actions (ACTION_WEIGHTS; negative
feedback such as `not_interested` and quick skips weighs against). Without a trained ranker
(too few viewers to learn from) the value is the cold-start heuristic: the sum over sources of
1 / (1 + rank). The diversity re-rank (domain/ranking/rerank.py) is the surfaces' own step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np

from domain.ranking.log import InteractionLog, Item
from domain.ranking.sources import Source, new_item_scores
from domain.ranking.sources.coengagement import CoEngagement
from domain.ranking.sources.factors import Factors
from domain.ranking.sources.fresh import Fresh
from domain.ranking.sources.hashtags import Hashtags
from domain.ranking.sources.popular import PopularNow

ACTION_WEIGHTS: dict[str, float] = {
    "engage": 1.0,
    "like": 1.0,
    "comment": 2.0,
    "save": 3.0,
    "share": 3.0,
    "complete": 1.5,
    "not_interested": -6.0,
    "skip": -1.0,
}
PER_SOURCE = 150
NEGATIVES_PER_VIEWER = 100
MIN_TRAINING_VIEWERS = 20
MAX_TRAINING_VIEWERS = 3_000  # a log of engagements only: viewers the ranker learns from
MAX_TRAINING_ROWS = 300_000  # a log with impressions: impressions it learns from
BATCH = 256  # viewers scored at once, fewer when items are many (BATCH_CELLS)
BATCH_CELLS = 4_000_000  # viewers x items per source and batch: about 16 MB each
IMPRESSION_SHARE = 0.3
BOOSTING_ROUNDS = 200
BOOSTING = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "seed": 0,
    "deterministic": True,
    "num_threads": 1,
    "verbose": -1,
}


def default_sources(seed: int = 0) -> list[Source]:
    return [CoEngagement(), Factors(seed=seed), Hashtags(), PopularNow(), Fresh()]


@dataclass
class Impressions:
    """Items shown to viewers (indices in the log's id space), when, and what each led to:
    `labels[action][n]` is true when impression n ended in that action (none: a negative)."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    labels: dict[str, np.ndarray]

    def subset(self, keep: np.ndarray) -> Impressions:
        return Impressions(
            self.users[keep],
            self.items[keep],
            self.times[keep],
            {a: v[keep] for a, v in self.labels.items()},
        )

    def split_newest(self, share: float) -> tuple[Impressions, Impressions, float]:
        """(older, the newest `share` of them by time then arrival, the time they start at)."""
        order = np.argsort(self.times, kind="stable")
        cut = min(round(len(order) * (1 - share)), len(order) - 1)
        newer = np.zeros(len(order), dtype=bool)
        newer[order[cut:]] = True
        return self.subset(~newer), self.subset(newer), float(self.times[order[cut]])


@dataclass
class Candidates:
    """One batch of viewers: `items[v]` their candidates, `features[v]` one row per candidate."""

    items: list[np.ndarray]
    features: list[np.ndarray]
    tags: list[np.ndarray]  # bitmask per candidate: which sources produced it


@dataclass
class Funnel:
    seed: int = 0
    per_source: int = PER_SOURCE
    sources: list[Source] = field(default_factory=list)
    models: dict[str, lgb.Booster] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sources:
            self.sources = default_sources(self.seed)

    @property
    def batch(self) -> int:
        return max(1, min(BATCH, BATCH_CELLS // max(self.log.n_items, 1)))

    @property
    def feature_names(self) -> list[str]:
        names = []
        for s in self.sources:
            names += [f"{s.name}_score", f"{s.name}_rank"]
        names += [
            "item_popularity", "viewer_activity", "last_item", "author_affinity", "item_age_days",
            "item_velocity", "author_popularity", "item_kind", "viewer_kind_share",
        ]  # fmt: skip
        return names

    # --- learning -----------------------------------------------------------------------

    def fit(
        self,
        log: InteractionLog,
        labels: Mapping[str, np.ndarray] | None = None,
        impressions: Impressions | None = None,
    ) -> None:
        """Learn the ranker on a time split of the log, then refit the sources on it all.

        With impressions (what viewers were shown, and what came of it), the ranker learns from
        the newest IMPRESSION_SHARE of them, each shown item a row labelled by its actions (no
        action: a negative), with the sources fitted on the engagements before them. Without
        (a public log of engagements only), it learns which candidate each viewer's newest
        engagement was, the candidates not picked being the negatives; `labels` then maps
        action names to a per-row boolean over the log (default: every row an "engage")."""
        if impressions is not None and len(impressions.users):
            self._fit_on_impressions(log, impressions)
            self._fit_sources(log)
            return
        actions = dict(labels) if labels else {"engage": np.ones(len(log), dtype=bool)}
        newest = log.last_per_user()
        history = log.subset(~newest)
        viewers = np.unique(log.users[newest])
        counts = np.bincount(history.users, minlength=log.n_users)
        viewers = viewers[counts[viewers] > 0]
        if viewers.size > MAX_TRAINING_VIEWERS:  # a seeded sample teaches as much, faster
            rng = np.random.default_rng(self.seed)
            viewers = np.sort(rng.choice(viewers, MAX_TRAINING_VIEWERS, replace=False))
        self.models = {}
        if viewers.size >= MIN_TRAINING_VIEWERS:
            self._fit_sources(history)
            targets = np.full(log.n_users, -1, dtype=np.int64)
            targets[log.users[newest]] = log.items[newest]
            target_actions = {a: np.zeros(log.n_users, dtype=bool) for a in actions}
            for action, rows in actions.items():
                target_actions[action][log.users[newest & rows]] = True
            self._train(history, viewers, targets, target_actions)
        self._fit_sources(log)

    def _fit_sources(self, log: InteractionLog) -> None:
        self.use_log(log)
        for source in self.sources:
            source.fit(log)
        self.item_counts = np.bincount(log.items, minlength=log.n_items).astype(np.float32)
        self.user_counts = np.bincount(log.users, minlength=log.n_users).astype(np.float32)
        self.now = log.user_times()
        self.seen = log.matrix().tocsr()
        self.item_created = (
            log.item_created if log.item_created is not None else np.full(log.n_items, np.nan)
        )
        self.item_kinds = (
            log.item_kinds
            if log.item_kinds is not None
            else np.full(log.n_items, -1, dtype=np.int32)
        )
        self.kind_ids = list(log.kind_ids)
        authors = log.item_authors[log.items]
        self.author_counts = np.bincount(
            authors[authors >= 0], minlength=max(len(log.author_ids), 1)
        ).astype(np.float32)

    def _fit_on_impressions(self, log: InteractionLog, impressions: Impressions) -> None:
        _, rows, split = impressions.split_newest(IMPRESSION_SHARE)
        if len(rows.users) > MAX_TRAINING_ROWS:  # a seeded sample teaches as much, faster
            rng = np.random.default_rng(self.seed)
            keep = np.zeros(len(rows.users), dtype=bool)
            keep[rng.choice(len(rows.users), MAX_TRAINING_ROWS, replace=False)] = True
            rows = rows.subset(keep)
        history = log.subset(log.times < split)
        self.models = {}
        if np.unique(rows.users).size < MIN_TRAINING_VIEWERS or not len(history):
            return
        self._fit_sources(history)
        self.now[:] = split  # the moment a worker would have ranked these
        order = np.argsort(rows.users, kind="stable")
        users = rows.users[order]
        viewers, starts = np.unique(users, return_index=True)
        bounds = np.r_[starts, users.size]
        parts = []
        for start in range(0, viewers.size, self.batch):
            batch = viewers[start : start + self.batch]
            items = [
                rows.items[order][bounds[n] : bounds[n + 1]]
                for n in range(start, start + batch.size)
            ]
            parts.append(self.features(batch, items, include_seen=True))
        x = np.vstack(parts)
        self._boost(x, {a: v[order] for a, v in rows.labels.items()})

    def _boost(self, x: np.ndarray, labels: Mapping[str, np.ndarray]) -> None:
        for action, y in labels.items():
            y = y.astype(np.float32)
            if y.sum() < 5 or y.sum() == y.size:
                continue  # nothing to learn for this action yet
            data = lgb.Dataset(x, y, feature_name=self.feature_names, free_raw_data=False)
            self.models[action] = lgb.train(
                BOOSTING | {"seed": self.seed}, data, num_boost_round=BOOSTING_ROUNDS
            )

    def _train(
        self,
        history: InteractionLog,
        viewers: np.ndarray,
        targets: np.ndarray,
        target_actions: dict[str, np.ndarray],
    ) -> None:
        rng = np.random.default_rng(self.seed)
        rows: list[np.ndarray] = []
        labels: dict[str, list[np.ndarray]] = {a: [] for a in target_actions}
        for start in range(0, viewers.size, self.batch):
            batch = viewers[start : start + self.batch]
            found = self.candidates(batch)
            for v, user in enumerate(batch):
                items, feats = found.items[v], found.features[v]
                hit = items == targets[user]
                neg = np.flatnonzero(~hit)
                if neg.size > NEGATIVES_PER_VIEWER:
                    neg = rng.choice(neg, NEGATIVES_PER_VIEWER, replace=False)
                keep = np.concatenate([np.flatnonzero(hit), neg])
                rows.append(feats[keep])
                for action, has in target_actions.items():
                    labels[action].append(hit[keep] & has[user])
        self._boost(np.vstack(rows), {a: np.concatenate(p) for a, p in labels.items()})

    # --- serving ------------------------------------------------------------------------

    def candidates(self, users: np.ndarray) -> Candidates:
        """Each viewer's candidates (every source's top unseen items) with their features."""
        seen = self._seen(users, include_seen=False)
        per_source = [source.scores(users, self.now[users]) for source in self.sources]
        n_items = self.log.n_items
        k = min(self.per_source, n_items)
        picks = []
        for v in range(len(users)):
            picked = []
            for scores in per_source:
                row = np.where(seen[v], -np.inf, scores[v])
                top = np.argpartition(-row, k - 1)[:k] if k < n_items else np.arange(n_items)
                picked.append(top[np.isfinite(row[top]) & (row[top] > 0)])
            picks.append(picked)
        items = [np.unique(np.concatenate(p)) if p else np.empty(0, np.int64) for p in picks]
        out = self._features(users, items, per_source, seen)
        for v, picked in enumerate(picks):
            tags = np.zeros(items[v].size, dtype=np.int64)
            for bit, top in enumerate(picked):
                tags |= np.isin(items[v], top).astype(np.int64) << bit
            out.tags.append(tags)
        return out

    def features(
        self, users: np.ndarray, items: list[np.ndarray], *, include_seen: bool = False
    ) -> np.ndarray:
        """The feature rows of given (viewer, items) pairs, stacked in order. `include_seen`
        ranks the sources' lists over every item (training on impressions, whose items the
        viewer may since have engaged with), not only the viewer's unseen ones."""
        per_source = [source.scores(users, self.now[users]) for source in self.sources]
        seen = self._seen(users, include_seen=include_seen)
        rows = self._features(users, items, per_source, seen).features
        return np.vstack(rows) if rows else np.empty((0, len(self.feature_names)), np.float32)

    def viewer_rows(
        self,
        user: int,
        known: np.ndarray,
        new: Sequence[Item] = (),
        *,
        include_seen: bool = False,
    ) -> np.ndarray:
        """One viewer's feature rows: `known` items (indices), then `new` ones the model has
        never seen (posts newer than it), judged by their facts: the sources that can (hashtags,
        fresh) score them, the others have nothing to say, as for any post nobody engaged with
        in training; the author affinity and the age are theirs."""
        users = np.array([user])
        now = self.now[users]
        per_source = [source.scores(users, now) for source in self.sources]
        seen = self._seen(users, include_seen=include_seen)
        rows = self._features(users, [known], per_source, seen).features[0]
        if not new:
            return rows
        cols = []
        for source, scores in zip(self.sources, per_source, strict=True):
            fresh = new_item_scores(source, user, float(now[0]), new)
            row = np.sort(np.where(seen[0], 0.0, scores[0]))[::-1]
            above = np.searchsorted(-row, -fresh, side="left").astype(np.float32)
            cols += [fresh, np.where(fresh > 0, above, np.nan)]
        authors = self.author_index
        author_index = np.array(
            [authors.get(i.author, -1) if i.author is not None else -1 for i in new]
        )
        affinity = self.author_table(users)
        created = np.array([np.nan if i.created is None else i.created for i in new])
        kind_index = {k: n for n, k in enumerate(self.kind_ids)}
        kinds = np.array([kind_index.get(i.kind, -1) if i.kind else -1 for i in new])
        cols += [
            np.zeros(len(new), dtype=np.float32),
            np.full(len(new), np.log1p(self.user_counts[user]), dtype=np.float32),
            np.zeros(len(new), dtype=np.float32),
            (
                np.where(author_index >= 0, affinity[0, np.maximum(author_index, 0)], 0.0)
                if affinity is not None
                else np.full(len(new), np.nan)
            ),
            (now[0] - created) / 86_400.0,
            np.zeros(len(new), dtype=np.float32),
            self._author_popularity(author_index),
            np.where(kinds >= 0, kinds, np.nan),
            self._kind_share(self.kind_table(users), 0, kinds),
        ]
        return np.vstack([rows, np.column_stack(cols).astype(np.float32)])

    def use_log(self, log: InteractionLog) -> None:
        """The id space the model works in (and the author index derived from it)."""
        self.log = log
        self.author_index = {a: n for n, a in enumerate(log.author_ids)}

    def _seen(self, users: np.ndarray, *, include_seen: bool) -> np.ndarray:
        """Viewers x items: what each viewer engaged with (all false with `include_seen`: the
        sources' lists are then ranked over every item)."""
        if include_seen:
            return np.zeros((len(users), self.log.n_items), dtype=bool)
        return np.asarray(self.seen[users].toarray() > 0)

    def _features(
        self,
        users: np.ndarray,
        items: list[np.ndarray],
        per_source: list[np.ndarray],
        seen: np.ndarray,
    ) -> Candidates:
        last = next((s for s in self.sources if isinstance(s, CoEngagement)), None)
        last_scores = last.last_item_scores(users) if last else None
        affinity = self._author_affinity(users)
        popular = next((n for n, s in enumerate(self.sources) if s.name == "popular"), None)
        kind_shares = self.kind_table(users)
        out = Candidates([], [], [])
        for v, user in enumerate(users):
            chosen = items[v]
            cols = []
            for scores in per_source:
                row = np.where(seen[v], 0.0, scores[v])
                order = np.argsort(-row, kind="stable")
                rank = np.empty(row.size, dtype=np.float32)
                rank[order] = np.arange(row.size)
                rank[row <= 0] = np.nan
                cols += [row[chosen], rank[chosen]]
            authors = self.log.item_authors[chosen]
            kinds = self.item_kinds[chosen]
            cols += [
                np.log1p(self.item_counts[chosen]),
                np.full(chosen.size, np.log1p(self.user_counts[user]), dtype=np.float32),
                last_scores[v, chosen] if last_scores is not None else np.zeros(chosen.size),
                affinity(v, chosen),
                (self.now[user] - self.item_created[chosen]) / 86_400.0,
                (
                    per_source[popular][v, chosen] / (self.item_counts[chosen] + 1.0)
                    if popular is not None
                    else np.zeros(chosen.size)
                ),
                self._author_popularity(authors),
                np.where(kinds >= 0, kinds, np.nan),
                self._kind_share(kind_shares, v, kinds),
            ]
            out.items.append(chosen)
            out.features.append(np.column_stack(cols).astype(np.float32))
        return out

    def _author_popularity(self, authors: np.ndarray) -> np.ndarray:
        """log(1 + engagements with the author's posts), NaN for an unknown author."""
        known = (authors >= 0) & (authors < self.author_counts.size)
        safe = np.where(known, authors, 0)
        return np.where(known, np.log1p(self.author_counts[safe]), np.nan)

    def kind_table(self, users: np.ndarray) -> np.ndarray | None:
        """Viewers x kinds: the share of each viewer's engagements on items of the kind (their
        preference for photos, carousels or reels); None when items have no kinds."""
        if not self.kind_ids:
            return None
        table = np.zeros((len(users), len(self.kind_ids)), dtype=np.float32)
        coo = self.seen[users].tocoo()
        kinds = self.item_kinds[coo.col]
        known = kinds >= 0
        np.add.at(table, (coo.row[known], kinds[known]), 1.0)
        table /= np.maximum(table.sum(axis=1, keepdims=True), 1.0)
        return table

    @staticmethod
    def _kind_share(table: np.ndarray | None, row: int, kinds: np.ndarray) -> np.ndarray:
        if table is None:
            return np.full(kinds.size, np.nan)
        return np.where(kinds >= 0, table[row, np.maximum(kinds, 0)], np.nan)

    def author_table(self, users: np.ndarray) -> np.ndarray | None:
        """Viewers x authors: the share of each viewer's engagements that went to the author
        (None when the log's items have no authors)."""
        authors = self.log.item_authors
        if not (authors >= 0).any():
            return None
        n_authors = max(int(authors.max()) + 1, len(self.log.author_ids))
        table = np.zeros((len(users), n_authors), dtype=np.float32)
        coo = self.seen[users].tocoo()
        known = authors[coo.col] >= 0
        np.add.at(table, (coo.row[known], authors[coo.col[known]]), 1.0)
        table /= np.maximum(table.sum(axis=1, keepdims=True), 1.0)
        return table

    def _author_affinity(self, users: np.ndarray) -> Callable[[int, np.ndarray], np.ndarray]:
        authors = self.log.item_authors
        table = self.author_table(users)
        if table is None:
            return lambda v, items: np.full(items.size, np.nan, dtype=np.float32)

        def affinity(v: int, items: np.ndarray) -> np.ndarray:
            a = authors[items]
            return np.where(a >= 0, table[v, np.maximum(a, 0)], 0.0).astype(np.float32)

        return affinity

    def value(self, features: np.ndarray) -> np.ndarray:
        """Each candidate's weighted sum of predicted actions (or the cold-start heuristic)."""
        if not self.models:
            return heuristic_value(features, len(self.sources))
        total = np.zeros(features.shape[0], dtype=np.float64)
        for action, model in self.models.items():
            predicted = np.asarray(model.predict(features, num_threads=1), dtype=np.float64)
            total += ACTION_WEIGHTS.get(action, 1.0) * predicted
        return total

    def recommend(self, users: np.ndarray, k: int) -> list[np.ndarray]:
        """Each viewer's top k unseen items, best first."""
        out = []
        for start in range(0, len(users), self.batch):
            batch = users[start : start + self.batch]
            found = self.candidates(batch)
            for items, feats in zip(found.items, found.features, strict=True):
                if not items.size:
                    out.append(items)
                    continue
                order = np.argsort(-self.value(feats), kind="stable")
                out.append(items[order[:k]])
        return out


def heuristic_value(features: np.ndarray, n_sources: int) -> np.ndarray:
    """Cold start: 1 / (1 + rank) summed over the sources that ranked the candidate."""
    ranks = features[:, 1 : 2 * n_sources : 2]
    return np.nansum(1.0 / (1.0 + ranks), axis=1)
