"""The ranking funnel offline: each candidate source on a small planted world, the ranker against
chronological order on held-out days, the model file, the diversity re-rank and `shutter
recommend` with good and bad logs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.ranking import evaluate_synthetic
from domain.ranking import artifact
from domain.ranking.log import Event, Item, LogError, build, read_csv
from domain.ranking.ranker import Funnel
from domain.ranking.recommend import read_users
from domain.ranking.rerank import rerank
from domain.ranking.sources.coengagement import CoEngagement
from domain.ranking.sources.factors import Factors
from domain.ranking.sources.fresh import Fresh
from domain.ranking.sources.hashtags import Hashtags
from domain.ranking.sources.popular import PopularNow
from domain.ranking.training import auc

ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400.0


def two_worlds(seed: int = 1) -> list[Event]:
    """Users 0-29 engage with items a0-a9, users 30-59 with b0-b9: two planted neighbourhoods."""
    rng = np.random.default_rng(seed)
    events = []
    for user in range(60):
        side = "a" if user < 30 else "b"
        for n, item in enumerate(rng.choice(10, size=6, replace=False)):
            events.append(Event(f"u{user}", f"{side}{item}", float(user * 100 + n)))
    return events


def neighbours_side(scores: np.ndarray, log_items: list[str], top: int = 5) -> set[str]:
    return {log_items[i][0] for i in np.argsort(-scores)[:top]}


@pytest.mark.parametrize("source", [CoEngagement(), Factors(factors=8, iterations=20)])
def test_engagement_sources_recover_the_planted_neighbourhoods(source) -> None:
    log = build(two_worlds())
    source.fit(log)
    users = np.array([log.user_ids.index("u3"), log.user_ids.index("u40")])
    scores = source.scores(users, log.user_times()[users])
    assert neighbours_side(scores[0], log.item_ids) == {"a"}
    assert neighbours_side(scores[1], log.item_ids) == {"b"}


def test_hashtags_score_a_post_nobody_engaged_with_by_its_tags() -> None:
    catalog = [Item(f"cat{n}", tags=("cats",)) for n in range(5)]
    catalog += [Item(f"car{n}", tags=("cars",)) for n in range(5)]
    catalog += [Item("new-cat", tags=("cats", "kittens")), Item("new-car", tags=("cars",))]
    events = [Event("ana", f"cat{n}", float(n)) for n in range(5)]
    events += [Event("bob", f"car{n}", float(n)) for n in range(5)]
    log = build(events, catalog)
    source = Hashtags()
    source.fit(log)
    ana = np.array([log.user_ids.index("ana")])
    row = source.scores(ana, log.user_times()[ana])[0]
    ids = log.item_ids
    assert row[ids.index("new-cat")] > 0 == row[ids.index("new-car")]


def test_popular_now_prefers_what_takes_off_over_an_old_hit() -> None:
    events = [Event(f"u{n}", "old-hit", float(n)) for n in range(40)]  # day 0
    events += [Event(f"v{n}", "rising", 20 * DAY + n) for n in range(10)]  # day 20
    log = build(events)
    source = PopularNow()
    source.fit(log)
    row = source.scores(np.array([0]), np.array([20 * DAY + 100]))[0]
    assert row[log.item_ids.index("rising")] > row[log.item_ids.index("old-hit")]
    before = source.scores(np.array([0]), np.array([10.0]))[0]
    assert before[log.item_ids.index("rising")] == 0  # nothing from the future


def test_fresh_orders_by_age_and_ignores_what_is_not_made_yet() -> None:
    catalog = [
        Item("old", created=0.0),
        Item("new", created=5 * DAY),
        Item("later", created=9 * DAY),
    ]
    log = build([Event("ana", "old", 1.0)], catalog)
    source = Fresh()
    source.fit(log)
    row = source.scores(np.array([0]), np.array([6 * DAY]))[0]
    ids = log.item_ids
    assert row[ids.index("new")] > row[ids.index("old")] > 0 == row[ids.index("later")]


def test_the_ranker_beats_chronological_order_on_held_out_days() -> None:
    figures = evaluate_synthetic(seed=3, users=150, days=14)
    assert figures["auc_model"] > figures["auc_chronological"] + 0.05
    assert figures["ndcg10_model"] > figures["ndcg10_chronological"]


def test_auc_is_one_for_a_perfect_order_and_a_half_for_a_constant() -> None:
    labels = np.array([False, False, True, True])
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), labels) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), labels) == 0.0
    assert auc(np.zeros(4), labels) == 0.5


def trained_funnel() -> Funnel:
    rng = np.random.default_rng(0)
    events = [
        Event(f"u{u}", f"i{int(i)}", float(u * 50 + n), author=f"a{int(i) % 7}")
        for u in range(80)
        for n, i in enumerate(rng.choice(60, size=12, replace=False))
    ]
    funnel = Funnel(seed=0)
    funnel.fit(build(events))
    return funnel


def test_a_model_file_scores_exactly_like_the_model_it_was_written_from() -> None:
    funnel = trained_funnel()
    assert funnel.models, "80 viewers are enough to train on"
    users = np.arange(10)
    blob = artifact.dump(funnel, version="v1", metrics={"auc": 0.7})
    loaded, meta = artifact.load(blob)
    assert meta["version"] == "v1"
    assert meta["metrics"] == {"auc": 0.7}
    mine, theirs = funnel.recommend(users, 10), loaded.recommend(users, 10)
    assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))


def test_a_corrupt_or_foreign_model_file_is_refused() -> None:
    blob = artifact.dump(trained_funnel(), version="v1")
    with pytest.raises(artifact.ArtifactError):
        artifact.load(blob[: len(blob) // 2])
    with pytest.raises(artifact.ArtifactError):
        artifact.load(b"not a zip at all")
    foreign = Path(__file__).parent / "foreign.zip"
    try:
        with zipfile.ZipFile(foreign, "w") as archive:
            archive.writestr("manifest.json", '{"format": 99}')
        with pytest.raises(artifact.ArtifactError, match="format 99"):
            artifact.load(foreign.read_bytes())
    finally:
        foreign.unlink()


def test_the_rerank_keeps_one_author_per_four_items_and_never_drops_one() -> None:
    authors = [1, 1, 1, 2, 2, 3, 4, 5]
    out = rerank(range(8), authors)
    assert sorted(out) == list(range(8))
    firsts = [authors[i] for i in out[:5]]
    for n in range(len(firsts) - 3):
        window = firsts[n : n + 4]
        assert len(set(window)) == len(window)
    assert rerank([0, 1, 2], [7, 7, 7]) == [0, 1, 2]  # nothing else to take: the rule gives way


def test_rerank_breaks_a_run_of_one_source() -> None:
    sources = [1, 1, 1, 1, 2, 2]
    out = rerank(range(6), [None] * 6, sources, run=3)
    assert [sources[i] for i in out[:4]] == [1, 1, 1, 2]


def recommend(tmp_path: Path, rows: str, users: str, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "log.csv").write_text(rows)
    (tmp_path / "users.txt").write_text(users)
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "config.cli", "recommend", "--train", tmp_path / "log.csv",
         "--users", tmp_path / "users.txt", "--out", tmp_path / "recs.csv", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def read_recs(tmp_path: Path) -> list[list[str]]:
    return [line.split(",") for line in (tmp_path / "recs.csv").read_text().splitlines()[1:]]


def planted_csv() -> str:
    return "user,item,timestamp\n" + "".join(
        f"{e.user},{e.item},{e.time:.0f}\n" for e in two_worlds()
    )


def test_recommend_writes_each_users_unseen_top_k_deterministically(tmp_path: Path) -> None:
    done = recommend(tmp_path, planted_csv(), "u3\nu40\nstranger\n", "--k", "3")
    assert done.returncode == 0, done.stderr
    assert "1 not in the log" in done.stdout
    recs = read_recs(tmp_path)
    first = (tmp_path / "recs.csv").read_text()
    by_user: dict[str, list[str]] = {}
    for user, item, rank in recs:
        by_user.setdefault(user, []).append(item)
        assert 1 <= int(rank) <= 3
    seen = {(e.user, e.item) for e in two_worlds()}
    assert set(by_user) == {"u3", "u40", "stranger"}
    assert all(len(items) == 3 for items in by_user.values())
    assert not any((u, i) in seen for u, items in by_user.items() for i in items)
    assert {i[0] for i in by_user["u3"]} == {"a"}
    assert {i[0] for i in by_user["u40"]} == {"b"}
    assert recommend(tmp_path, planted_csv(), "u3\nu40\nstranger\n", "--k", "3").returncode == 0
    assert (tmp_path / "recs.csv").read_text() == first


def test_recommend_takes_one_user_and_duplicate_rows(tmp_path: Path) -> None:
    done = recommend(tmp_path, "ana,x,1\nana,x,1\nana,y,2\nbob,z,3\n", "ana\n")
    assert done.returncode == 0, done.stderr
    assert [item for _, item, _ in read_recs(tmp_path)] == ["z"]  # only unseen items exist


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("", "holds no interactions"),
        ("ana,x,1\nana,y\n", "line 2: expected user,item,timestamp"),
        ("ana,x,1\nbob,y,yesterday\n", "line 2: timestamp and weight must be numbers"),
        ("ana,x,1,-3\n", "line 1: timestamp must be finite and weight a positive number"),
        ("ana,,1\n", "line 1: user and item must not be empty"),
    ],
)
def test_recommend_names_the_line_a_malformed_log_breaks_on(
    tmp_path: Path, rows: str, message: str
) -> None:
    done = recommend(tmp_path, rows, "ana\n")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_read_csv_skips_a_header_and_merges_a_users_repeats(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user,item,timestamp,weight\nana,x,5,1\nana,x,9,2\nbob,x,7,1\n")
    log = read_csv(path)
    assert len(log) == 2
    assert log.n_users == 2
    assert log.n_items == 1
    assert log.weights.tolist() == [1.0, 3.0]
    assert log.times.tolist() == [7.0, 9.0]
    path.write_text("user,item,timestamp\n")
    with pytest.raises(LogError):
        read_csv(path)


def test_a_post_newer_than_the_model_is_judged_by_its_tags_author_and_age() -> None:
    catalog = [Item(f"cat{n}", author="kitty", tags=("cats",), created=float(n)) for n in range(5)]
    catalog += [Item(f"car{n}", author="vroom", tags=("cars",), created=float(n)) for n in range(5)]
    events = [Event("ana", f"cat{n}", 10.0 + n, author="kitty") for n in range(4)]
    events += [Event("bob", f"car{n}", 10.0 + n, author="vroom") for n in range(4)]
    funnel = Funnel(seed=0)
    funnel.fit(build(events, catalog))
    ana = funnel.log.user_ids.index("ana")
    new = [
        Item("new-car", author="someone", tags=("cars",), created=19.0),
        Item("new-cat", author="kitty", tags=("cats",), created=19.0),
    ]
    rows = funnel.viewer_rows(ana, np.array([], dtype=np.int64), new)
    assert rows.shape == (2, len(funnel.feature_names))
    names = funnel.feature_names
    assert rows[1, names.index("hashtags_score")] > 0 == rows[0, names.index("hashtags_score")]
    assert rows[1, names.index("author_affinity")] == 1.0
    value = funnel.value(rows)  # no ranker on 2 viewers: the cold-start heuristic
    assert value[1] > value[0]


def test_the_users_file_lists_each_user_once(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    path.write_text("ana\n\nbo\nana\n  bo  \n")
    assert read_users(path) == ["ana", "bo"]
    path.write_text("\n\n")
    with pytest.raises(LogError, match="lists no users"):
        read_users(path)
