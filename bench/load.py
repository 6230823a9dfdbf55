"""A mixed workload against a live API with its workers, at rising concurrency, then a check
that every acknowledged write was counted exactly.

85 % reads (the home feed and a profile's posts), 8 % likes, 5 % comments, 2 % posts (with a
READY photo each), at concurrency 8, 32, 128 and 256, against one API process and then one per
core, with a worker process for every queue. For each: throughput, p50 and p99 per kind,
errors, and requests shed (503 `UNAVAILABLE` past MAX_IN_FLIGHT, which a client retries). At
the end: every acknowledged like, comment and post must be a row, and every post's live like
and comment counters must equal its rows.

    python bench/load.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feed import MEDIA_COLUMNS, _photo, make_active, seed
from bench.services import ROOT, read_reply, scratch_database, serve
from config.runtime import start
from config.settings import Settings
from domain.ids import next_id
from domain.posts import counters
from domain.users.tokens import create_access_token
from resolvers.global_ids import parse_global_id, to_global_id

SECRET = "load-bench-secret-0123456789-0123456789"
LEVELS = (8, 32, 128, 256)
FEED = "{ feed(first: 10) { edges { node { id caption likeCount author { username } } } } }"
PROFILE = """query($u: String!) { user(username: $u) { username followerCount
  posts(first: 10) { edges { node { id likeCount commentCount } } } } }"""
LIKE = """mutation($p: ID!) { likePost(input: {postId: $p}) { post { likeCount }
  errors { code } } }"""
COMMENT = """mutation($p: ID!, $t: String!) { addComment(input: {postId: $p, text: $t}) {
  comment { id } errors { code } } }"""
POST = """mutation($m: [ID!]!) { createPost(input: {mediaIds: $m, caption: "load"}) {
  post { id } errors { code } } }"""
MIX = (("feed", 0.55), ("profile", 0.30), ("like", 0.08), ("comment", 0.05), ("post", 0.02))
WRITES = ("like", "comment", "post")


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class World:
    users: list[int]
    usernames: dict[int, str]
    tokens: dict[int, str]
    posts: list[int]
    free_media: dict[int, list[int]]  # READY photos not yet in a post, by owner


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shed: int = 0
    liked: set[tuple[int, int]] = field(default_factory=set)  # (user, post) acknowledged
    comments: set[int] = field(default_factory=set)
    posts: set[int] = field(default_factory=set)


async def build_world(database_url: str, redis_url: str, quick: bool) -> World:
    settings = Settings(environment="development", database_url=database_url, redis_url=redis_url)
    runtime = await start(settings, database_url=database_url, redis_url=redis_url)
    await runtime.redis.flushdb()
    conn = await asyncpg.connect(database_url)
    users, posts = (1_000, 5_000) if quick else (3_000, 20_000)
    world = await seed(conn, users=users, posts=posts, star_followers=0, heavy_users=0)
    user_ids: list[int] = world["user_ids"]
    names = dict(await conn.fetch("SELECT id, username FROM users"))
    post_ids = [r["id"] for r in await conn.fetch("SELECT id FROM posts")]
    # Photos waiting to be posted: READY, not attached to anything yet.
    now = datetime.now(UTC)
    free: dict[int, list[int]] = defaultdict(list)
    records = []
    for uid in user_ids:
        for _ in range(3):
            media_id = next_id()
            row = list(_photo(media_id, uid, now))
            row[MEDIA_COLUMNS.index("attached_at")] = None
            records.append(tuple(row))
            free[uid].append(media_id)
    await conn.copy_records_to_table("media", records=records, columns=MEDIA_COLUMNS)
    await conn.close()
    await make_active(runtime, user_ids)
    await runtime.close()
    tokens = {
        uid: create_access_token(user_id=uid, secret=SECRET, ttl_seconds=3_600) for uid in user_ids
    }
    return World(user_ids, names, tokens, post_ids, free)


def pick(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for kind, share in MIX:
        total += share
        if roll < total:
            return kind
    return MIX[0][0]


def body_for(kind: str, world: World, rng: random.Random) -> tuple[int, dict[str, Any]] | None:
    user = rng.choice(world.users)
    if kind == "feed":
        return user, {"query": FEED}
    if kind == "profile":
        return user, {
            "query": PROFILE,
            "variables": {"u": world.usernames[rng.choice(world.users)]},
        }
    post = to_global_id("Post", rng.choice(world.posts))
    if kind == "like":
        return user, {"query": LIKE, "variables": {"p": post}}
    if kind == "comment":
        return user, {"query": COMMENT, "variables": {"p": post, "t": f"nice {rng.random():.6f}"}}
    media = world.free_media.get(user)
    if not media:
        return None
    return user, {"query": POST, "variables": {"m": [to_global_id("Media", media.pop())]}}


async def client(port: int, world: World, deadline: float, tally: Tally, seed_: int) -> None:
    """One keep-alive connection sending requests one after another until `deadline`."""
    rng = random.Random(seed_)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            kind = pick(rng)
            made = body_for(kind, world, rng)
            if made is None:
                continue
            user, payload = made
            data = json.dumps(payload).encode()
            request = (
                f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {world.tokens[user]}\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode() + data
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head, body = await read_reply(reader)
            elapsed = time.perf_counter() - started
            if head.startswith(b"HTTP/1.1 503"):
                tally.shed += 1
                await asyncio.sleep(0.05)  # as a client told Retry-After would, a little
                continue
            tally.latencies[kind].append(elapsed)
            answer = json.loads(body)
            if not head.startswith(b"HTTP/1.1 200") or answer.get("errors"):
                tally.errors[kind] += 1
                continue
            record(kind, user, payload, answer["data"], tally)
    finally:
        writer.close()


def record(
    kind: str, user: int, payload: dict[str, Any], data: dict[str, Any], tally: Tally
) -> None:
    if kind not in WRITES:
        return
    name = {"like": "likePost", "comment": "addComment", "post": "createPost"}[kind]
    result = data[name]
    if result["errors"]:
        tally.errors[kind] += 1
        return
    if kind == "like":
        tally.liked.add((user, parse_global_id(payload["variables"]["p"])[1]))
    elif kind == "comment":
        tally.comments.add(parse_global_id(result["comment"]["id"])[1])
    else:
        tally.posts.add(parse_global_id(result["post"]["id"])[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else 0.0


async def level(
    port: int, world: World, concurrency: int, seconds: float, tally: Tally
) -> dict[str, Any]:
    before = {kind: len(v) for kind, v in tally.latencies.items()}
    errors_before, shed_before = sum(tally.errors.values()), tally.shed
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(client(port, world, deadline, tally, concurrency * 1000 + i) for i in range(concurrency))
    )
    took = time.perf_counter() - started
    fresh = {kind: v[before.get(kind, 0) :] for kind, v in tally.latencies.items()}
    every = [x for v in fresh.values() for x in v]
    writes = [x for kind in WRITES for x in fresh.get(kind, [])]
    return {
        "concurrency": concurrency,
        "rps": len(every) / took,
        "p50": percentile(every, 0.5),
        "p99": percentile(every, 0.99),
        "write_p99": percentile(writes, 0.99),
        "by_kind": {kind: (len(v), percentile(v, 0.99)) for kind, v in fresh.items()},
        "errors": sum(tally.errors.values()) - errors_before,
        "shed": tally.shed - shed_before,
    }


def knee(results: list[dict[str, Any]]) -> int:
    """The concurrency past which throughput grows less than 10 %."""
    for here, there in itertools.pairwise(results):
        if there["rps"] < here["rps"] * 1.10:
            return int(here["concurrency"])
    return int(results[-1]["concurrency"])


async def check(database_url: str, redis_url: str, tally: Tally) -> int:
    """Acknowledged writes that are not rows, and posts whose live counters differ from rows."""
    from redis.asyncio import Redis

    conn = await asyncpg.connect(database_url)
    try:
        liked = {
            (r["user_id"], r["post_id"])
            for r in await conn.fetch("SELECT user_id, post_id FROM likes")
        }
        comments = {r["id"] for r in await conn.fetch("SELECT id FROM comments")}
        posts = {r["id"] for r in await conn.fetch("SELECT id FROM posts")}
        missing = (
            len(tally.liked - liked) + len(tally.comments - comments) + len(tally.posts - posts)
        )
        touched = sorted(
            {p for _, p in tally.liked}
            | set(r["post_id"] for r in await conn.fetch("SELECT DISTINCT post_id FROM comments"))
        )
        truth = {
            r["id"]: (r["likes"], r["comments"])
            for r in await conn.fetch(
                "SELECT p.id, (SELECT count(*) FROM likes l WHERE l.post_id = p.id) likes,"
                " (SELECT count(*) FROM comments c WHERE c.post_id = p.id) comments"
                " FROM posts p WHERE p.id = ANY($1::bigint[])",
                touched,
            )
        }
    finally:
        await conn.close()
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        live = await counters.read(redis, "post", touched)
    finally:
        await redis.aclose()
    differ = {
        post_id: (counted, rows)
        for post_id, rows in truth.items()
        if (
            counted := (
                live.get(post_id, {}).get("like_count", 0),
                live.get(post_id, {}).get("comment_count", 0),
            )
        )
        != rows
    }
    log(
        f"  acknowledged and missing: {missing};"
        f" posts whose counters differ from rows: {len(differ)}"
    )
    for post_id, (counted, rows) in list(differ.items())[:5]:
        log(f"    post {post_id}: (likes, comments) counted {counted}, rows {rows}")
    return missing + len(differ)


def start_workers(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Every queue's worker, in one process (fan-out, notifications, the counter crons)."""
    return subprocess.Popen(
        [sys.executable, "-m", "config.cli", "worker"],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


def report(result: dict[str, Any]) -> None:
    kinds = ", ".join(
        f"{kind} {n} p99 {p99:.0f}" for kind, (n, p99) in sorted(result["by_kind"].items())
    )
    log(
        f"  c={result['concurrency']:>3}: {result['rps']:6.0f} req/s"
        f"  p50 {result['p50']:6.1f} ms  p99 {result['p99']:6.1f} ms"
        f"  writes p99 {result['write_p99']:6.1f} ms"
        f"  errors {result['errors']}  shed {result['shed']}  ({kinds})"
    )


async def run(quick: bool) -> None:
    seconds = 5.0 if quick else 15.0
    async with scratch_database("shutter_bench_load") as (database_url, redis_url):
        started = time.perf_counter()
        world = await build_world(database_url, redis_url, quick)
        log(
            f"seeded {len(world.users):,} users and {len(world.posts):,} posts"
            f" in {time.perf_counter() - started:.1f} s"
        )
        env = {
            "ENVIRONMENT": "production",
            "JWT_SECRET": SECRET,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
        }
        worker = start_workers(env)
        tally = Tally()
        summary: dict[int, list[dict[str, Any]]] = {}
        try:
            for processes in (1, os.cpu_count() or 2):
                api, port = serve("config.asgi:create_app", env, workers=processes)
                try:
                    await level(port, world, 8, 2.0, Tally())  # warm the caches
                    log(f"{processes} API process(es), {seconds:.0f} s per level:")
                    results = []
                    for concurrency in LEVELS:
                        result = await level(port, world, concurrency, seconds, tally)
                        results.append(result)
                        report(result)
                    summary[processes] = results
                finally:
                    api.terminate()
                    api.wait(30)
            await asyncio.sleep(12)  # the flush and reconcile crons run
            lost = await check(database_url, redis_url, tally)
        finally:
            worker.terminate()
            worker.wait(30)
    one = summary[1]
    at_32 = next(r for r in one if r["concurrency"] == 32)
    log(f"load_knee_concurrency: {knee(one)}")
    log(f"load_p99_ms_at_32: {at_32['p99']:.0f}")
    log(f"write_p99_ms_at_32: {at_32['write_p99']:.0f}")
    log(f"errors_at_256: {next(r for r in one if r['concurrency'] == 256)['errors']}")
    log(f"lost_or_miscounted: {lost}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller world, 5 s per level")
    asyncio.run(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
