"""Stories, reels and the view log against a live API: the story tray of a viewer who follows
1,000 accounts of which 200 have live stories, a reels page, and a logViews batch of 100.

Each latency is measured at 32 concurrent keep-alive clients (bench.services.load: a raw
HTTP/1.1 client, so the load generator is not what is measured), warm (after one read), next to
the floor of the same server in the same run: `{ viewer { id } }`, a request that reads only
the signed-in user. The tray is measured twice: as a client reads it again (the kept tray,
domain/stories/tray_cache), and assembled on every request (a document the kept tray does not
answer: what a tray costs right after something in it changed). SQL statements per warm tray
come from the response's `extensions.sqlStatements`; logViews' server CPU is the API process's
own CPU time (from /proc) per call.

    python bench/stories.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feed import MEDIA_COLUMNS, _photo
from bench.services import (
    POST_COLUMNS,
    USER_COLUMNS,
    load,
    request_bodies,
    scratch_database,
    serve,
    user_record,
)
from config.runtime import start
from config.settings import Settings
from domain.ids import next_id
from domain.stories import flows as story_flows
from domain.stories.models import Audience
from domain.users.tokens import create_access_token
from resolvers.global_ids import to_global_id

SECRET = "stories-bench-secret-0123456789-01234567"
TRAY = "{ storyTray { user { username } hasUnseen stories { id caption } } }"
# The same tray with the floor's field beside it: a document the kept tray does not answer, so
# every request assembles the tray (what a tray costs right after something in it changed).
ASSEMBLED = "{ storyTray { user { username } hasUnseen stories { id caption } } viewer { id } }"
REELS = "{ reels(first: 10) { edges { node { id author { username } } } } }"
FLOOR = "{ viewer { id } }"
LOG = """mutation($b: String!, $e: [ViewEventInput!]!) { logViews(input: {batchId: $b,
  events: $e}) { accepted rejected } }"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def seed(database_url: str, redis_url: str, *, followed: int, live: int, reels: int) -> dict:
    """The viewer, `followed` accounts they follow, `live` of them with two stories each (by
    the real flow), and `reels` reels by 100 other accounts."""
    settings = Settings(
        environment="test", database_url=database_url, redis_url=redis_url, jwt_secret=SECRET
    )
    runtime = await start(settings, database_url=database_url, redis_url=redis_url)
    conn = await asyncpg.connect(database_url)
    try:
        now = datetime.now(UTC)
        viewer = next_id()
        accounts = [next_id() for _ in range(followed)]
        creators = [next_id() for _ in range(100)]
        users = [viewer, *accounts, *creators]
        await conn.copy_records_to_table(
            "users",
            records=[user_record(u, f"u{i}", now) for i, u in enumerate(users)],
            columns=USER_COLUMNS,
        )
        await conn.copy_records_to_table(
            "follows",
            records=[(next_id(), viewer, a, "ACTIVE", now) for a in accounts],
            columns=["id", "follower_id", "followee_id", "status", "created_at"],
        )
        photos = {a: next_id() for a in accounts[:live]}
        await conn.copy_records_to_table(
            "media", records=[_photo(m, a, now) for a, m in photos.items()], columns=MEDIA_COLUMNS
        )
        for author, media_id in photos.items():
            for n in range(2):
                await story_flows.create_story(
                    author_id=author,
                    media_id=media_id,
                    audience=Audience.EVERYONE,
                    caption=f"story {n}",
                    stories=runtime.stories,
                    ports=runtime.ports,
                    at=now - timedelta(minutes=60 - n),
                )
        videos = [(next_id(), creators[i % len(creators)]) for i in range(reels)]
        await conn.copy_records_to_table(
            "media", records=[_photo(m, a, now) for m, a in videos], columns=MEDIA_COLUMNS
        )
        await conn.execute(
            "UPDATE media SET kind = 'VIDEO', duration_ms = 10000 WHERE id = ANY($1::bigint[])",
            [m for m, _ in videos],
        )
        await conn.copy_records_to_table(
            "posts",
            records=[
                (
                    next_id(),
                    a,
                    "REEL",
                    "reel",
                    f"[{m}]",
                    "[]",
                    "[]",
                    i % 50,
                    0,
                    0,
                    0,
                    0,
                    now - timedelta(minutes=i),
                    None,
                    False,
                )
                for i, (m, a) in enumerate(videos)
            ],
            columns=POST_COLUMNS,
        )
        reel_ids = [r["id"] for r in await conn.fetch("SELECT id FROM posts LIMIT 100")]
        return {"viewer": viewer, "reels": reel_ids}
    finally:
        await conn.close()
        await runtime.close()


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(quick: bool) -> None:
    seconds = 3.0 if quick else 6.0
    rounds = 2 if quick else 3
    async with scratch_database("shutter_bench_stories") as (database_url, redis_url):
        log("seeding: 1,000 followed, 200 with live stories, 300 reels")
        world = await seed(database_url, redis_url, followed=1_000, live=200, reels=300)
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "JWT_SECRET": SECRET,
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_MINUTE": "1000000",
        }
        process, port = serve("config.asgi:create_app", env)
        token = create_access_token(user_id=world["viewer"], secret=SECRET, ttl_seconds=3_600)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                headers = {"Authorization": f"Bearer {token}"}
                warm = await http.post("/graphql", json={"query": TRAY}, headers=headers)
                assert warm.status_code == 200, warm.text[:300]
                assert not warm.json().get("errors"), warm.text[:500]
                sql_cold = warm.json()["extensions"]["sqlStatements"]
                reels_in_tray = len(warm.json()["data"]["storyTray"])
                again = (await http.post("/graphql", json={"query": TRAY}, headers=headers)).json()
                sql_warm = again["extensions"]["sqlStatements"]
                await http.post("/graphql", json={"query": REELS}, headers=headers)
                results: dict[str, list[float]] = {
                    "tray": [],
                    "assembled": [],
                    "reels": [],
                    "floor": [],
                }
                plan = (
                    ("floor", FLOOR),
                    ("tray", TRAY),
                    ("assembled", ASSEMBLED),
                    ("reels", REELS),
                )
                for turn in range(rounds):
                    for name, query in plan:
                        bodies = request_bodies(port, query, [token])
                        times = await load(port, bodies, seconds=seconds, concurrency=32)
                        results[name].append(p(times, 0.99))
                        log(
                            f"round {turn + 1} {name}: p50 {p(times, 0.5):.1f} ms,"
                            f" p99 {p(times, 0.99):.1f} ms"
                        )
                events = [
                    {
                        "postId": to_global_id("Post", world["reels"][i % len(world["reels"])]),
                        "watchedMs": 4_000,
                        "completed": i % 3 == 0,
                        "surface": "REELS",
                    }
                    for i in range(100)
                ]
                calls = 50 if quick else 200
                for i in range(5):  # warm: the first call parses, validates and prepares
                    await http.post(
                        "/graphql",
                        json={"query": LOG, "variables": {"b": f"warm{i}", "e": events}},
                        headers=headers,
                    )
                before = cpu_seconds(process.pid)
                for i in range(calls):
                    done = await http.post(
                        "/graphql",
                        json={"query": LOG, "variables": {"b": f"b{i}", "e": events}},
                        headers=headers,
                    )
                    assert done.json()["data"]["logViews"]["accepted"] == 100, done.text[:300]
                cpu_ms = (cpu_seconds(process.pid) - before) * 1000 / calls
        finally:
            process.terminate()
            process.wait(10)
    floor = statistics.median(results["floor"])
    tray, reels = statistics.median(results["tray"]), statistics.median(results["reels"])
    assembled = statistics.median(results["assembled"])
    print(f"reels in the tray: {reels_in_tray}")
    print(
        f"floor ({FLOOR}) p99 at 32 clients: {floor:.1f} ms over {rounds} rounds"
        f" (spread {min(results['floor']):.1f}-{max(results['floor']):.1f})"
    )
    print(
        f"story tray p99 / floor: {tray / floor:.2f}"
        f" (spread {min(results['tray']):.1f}-{max(results['tray']):.1f} ms)"
    )
    print(
        f"story tray assembled (not kept) p99 / floor: {assembled / floor:.2f}"
        f" (spread {min(results['assembled']):.1f}-{max(results['assembled']):.1f} ms)"
    )
    print(
        f"reels p99 / floor: {reels / floor:.2f}"
        f" (spread {min(results['reels']):.1f}-{max(results['reels']):.1f} ms)"
    )
    print(f"story_tray_assembled_p99_ms: {assembled:.1f}")
    print(f"story_tray_sql_cold: {sql_cold}")
    print(f"story_tray_p99_ms: {tray:.1f}")
    print(f"story_tray_sql_warm: {sql_warm}")
    print(f"reels_p99_ms: {reels:.1f}")
    print(f"log_views_100_cpu_ms: {cpu_ms:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests, for a smoke run")
    asyncio.run(main(parser.parse_args().quick))
