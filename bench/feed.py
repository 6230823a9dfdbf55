"""Home feed benchmark: seed a world, then measure the feed over HTTP, its SQL, fan-out and
rebuilds, each next to a floor measured in the same run.

    python bench/feed.py           # 10,000 users, 100,000 posts, 1,000,000 followers of one
    python bench/feed.py --quick   # 2,000 users, 20,000 posts, 100,000 followers (< 3 minutes)

It uses DATABASE_URL / REDIS_URL when set (the database named there is dropped and made anew:
point it at a scratch database) and otherwise the embedded servers under .data/bench. The last
six lines are for tools to read.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import numpy as np
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.services import (  # noqa: E402
    http_worker,
    insert_post,
    request_bodies,
    run_load,
    scratch_database,
    serve,
)
from config.runtime import Runtime, start  # noqa: E402
from config.settings import Settings  # noqa: E402
from domain.feed import flows as feed_flows  # noqa: E402
from domain.feed import service as feed  # noqa: E402
from domain.feed.store import (  # noqa: E402
    BASE,
    SET_OUTLIVES_FLOOR_SECONDS,
    feed_key,
    floor_key,
    pad,
)
from domain.ids import next_id  # noqa: E402
from domain.ranking import service as ranking  # noqa: E402
from domain.users.tokens import create_access_token  # noqa: E402

QUERY = """query($after: String) { feed(first: 10, after: $after) { edges { cursor node {
  id caption likeCount commentCount author { username } media { url(width: 640) } } }
  pageInfo { hasNextPage endCursor } } }"""
CONCURRENCY = 32
ROUNDS = 5  # turns per server in the HTTP comparison


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- the world


async def seed(
    conn: asyncpg.Connection, *, users: int, posts: int, star_followers: int, heavy_users: int
) -> dict[str, Any]:
    """Users with power-law follows, posts by power-law authors (each with one READY photo in
    eight renditions), heavy followers (1,000 each), and a star followed by `star_followers`
    extra accounts. All by COPY."""
    rng = np.random.default_rng(2026)
    now = datetime.now(UTC)
    password = PasswordHasher().hash("bench-password-1")
    user_ids = [next_id() for _ in range(users)]
    star_id = user_ids[0]
    follower_ids = [next_id() for _ in range(star_followers)]
    await conn.copy_records_to_table(
        "users",
        records=(
            (
                uid,
                f"user{i}",
                f"user{i}@bench.test",
                password,
                "",
                "",
                False,
                None,
                0,
                0,
                0,
                now,
                now,
            )
            for i, uid in enumerate(user_ids + follower_ids)
        ),
        columns=[
            "id",
            "username",
            "email",
            "password_hash",
            "full_name",
            "bio",
            "is_private",
            "avatar_media_id",
            "follower_count",
            "following_count",
            "post_count",
            "created_at",
            "updated_at",
        ],
    )
    # Popularity by rank (Zipf, s=1.1): a few accounts are followed by many.
    weights = 1 / np.arange(1, users + 1) ** 1.1
    weights /= weights.sum()
    pairs: set[tuple[int, int]] = set()
    counts = np.minimum(rng.zipf(1.8, users) * 8, 1_000)
    for i, count in enumerate(counts):
        for j in rng.choice(users, size=min(int(count), users - 1), replace=False, p=weights):
            if j != i:
                pairs.add((user_ids[i], user_ids[j]))
    heavy = user_ids[1 : heavy_users + 1]
    for uid in heavy:
        for j in rng.choice(users, size=1_000, replace=False):
            if user_ids[j] != uid:
                pairs.add((uid, user_ids[j]))
    pairs |= {(f, star_id) for f in follower_ids}
    await conn.copy_records_to_table(
        "follows",
        records=((next_id(), a, b, "ACTIVE", now) for a, b in pairs),
        columns=["id", "follower_id", "followee_id", "status", "created_at"],
    )
    authors = rng.choice(users, size=posts, p=weights**0.5 / (weights**0.5).sum())
    post_ids = []
    records = []
    media_records = []
    for author in authors:
        post_id, media_id = next_id(), next_id()
        post_ids.append(post_id)
        records.append(
            (
                post_id,
                user_ids[author],
                "PHOTO",
                "bench post",
                f"[{media_id}]",
                "[]",
                "[]",
                0,
                0,
                0,
                now,
            )
        )
        media_records.append(_photo(media_id, user_ids[author], now))
    await conn.copy_records_to_table("media", records=media_records, columns=MEDIA_COLUMNS)
    await conn.copy_records_to_table(
        "posts",
        records=records,
        columns=[
            "id",
            "author_id",
            "kind",
            "caption",
            "media_ids",
            "hashtags",
            "mention_ids",
            "like_count",
            "comment_count",
            "save_count",
            "created_at",
        ],
    )
    await conn.execute("""
        UPDATE users u SET follower_count = c.n FROM (SELECT followee_id, count(*) n FROM follows
        GROUP BY followee_id) c WHERE u.id = c.followee_id;
        UPDATE users u SET following_count = c.n FROM (SELECT follower_id, count(*) n
        FROM follows GROUP BY follower_id) c WHERE u.id = c.follower_id;
        UPDATE users u SET post_count = c.n FROM (SELECT author_id, count(*) n FROM posts
        GROUP BY author_id) c WHERE u.id = c.author_id;
        ANALYZE;""")
    return {
        "user_ids": user_ids,
        "star": star_id,
        "star_followers": follower_ids,
        "heavy": heavy,
        "follows": len(pairs),
    }


MEDIA_COLUMNS = [
    "id",
    "owner_id",
    "kind",
    "status",
    "declared_type",
    "declared_size",
    "content_type",
    "original_key",
    "width",
    "height",
    "blurhash",
    "variants",
    "uploaded_at",
    "attempts",
    "attached_at",
    "created_at",
    "updated_at",
]


def _photo(media_id: int, owner_id: int, now: datetime) -> tuple[Any, ...]:
    """A READY photo as the media pipeline leaves it: four widths in JPEG and WebP."""
    variants = [
        {
            "key": f"media/{media_id}/{width}.{ext}",
            "width": width,
            "height": width * 5 // 4,
            "content_type": f"image/{kind}",
        }
        for width in (320, 640, 1080, 1440)
        for ext, kind in (("jpg", "jpeg"), ("webp", "webp"))
    ]
    return (
        media_id,
        owner_id,
        "IMAGE",
        "READY",
        "image/jpeg",
        2_000_000,
        "image/jpeg",
        f"uploads/{media_id}",
        1440,
        1800,
        "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        json.dumps(variants),
        now,
        1,
        now,
        now,
        now,
    )


# ---------------------------------------------------------------- HTTP load


async def warm(port: int, tokens: list[str]) -> None:
    """Every reader opens the app once (a returning reader's feed is rebuilt then, measured on
    its own above) and the server's caches fill; then a second of load."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        for i in range(0, len(tokens), 8):
            await asyncio.gather(
                *[
                    http.post(
                        "/graphql",
                        json={"query": QUERY},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    for token in tokens[i : i + 8]
                ]
            )
    bodies = request_bodies(port, QUERY, tokens)
    await asyncio.gather(
        *[
            http_worker("127.0.0.1", port, bodies, time.perf_counter() + 1, [])
            for _ in range(CONCURRENCY)
        ]
    )


async def burst(port: int, tokens: list[str], seconds: float, latencies: list[float]) -> float:
    """`seconds` of load at CONCURRENCY; adds each request's latency; returns the time taken."""
    bodies = request_bodies(port, QUERY, tokens)
    return await run_load(port, bodies, seconds, CONCURRENCY, latencies)


async def compare(
    servers: dict[str, tuple[int, list[str]]], seconds: float
) -> dict[str, dict[str, float]]:
    """Load each server for `seconds` in all, in ROUNDS turns taken one after another, so that
    a slow spell of a shared machine falls on all of them alike."""
    for port, tokens in servers.values():
        await warm(port, tokens)
    # The load generator holds the seeded world (a million ids in the full run): out of its
    # collector's sight, lest its own pauses count as the servers' latency.
    gc.collect()
    gc.freeze()
    latencies: dict[str, list[float]] = {name: [] for name in servers}
    elapsed = dict.fromkeys(servers, 0.0)
    for _ in range(ROUNDS):
        for name, (port, tokens) in servers.items():
            elapsed[name] += await burst(port, tokens, seconds / ROUNDS, latencies[name])
    results = {}
    for name, times in latencies.items():
        times.sort()
        results[name] = {
            "rps": len(times) / elapsed[name],
            "p50_ms": times[len(times) // 2] * 1000,
            "p99_ms": times[int(len(times) * 0.99)] * 1000,
        }
    gc.unfreeze()
    return results


async def first_page(env: dict[str, str], token: str) -> dict[str, Any]:
    """The page the floors serve: Shutter's answer to the benchmark's query."""
    server, port = serve("config.asgi:create_app", env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            response = await http.post(
                "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}
            )
        page: dict[str, Any] = response.json()
    finally:
        server.terminate()
        server.wait(10)
    assert page["data"]["feed"]["edges"], page
    return page


async def http_comparison(
    shutter: tuple[str, dict[str, str], list[str]],
    floors: dict[str, tuple[str, list[str]]],
    page_file: str,
    seconds: float,
    *,
    workers: int,
) -> dict[str, dict[str, float]]:
    """Shutter and the floors, each served by `workers` uvicorn processes, under the same
    load (see compare)."""
    servers = []
    try:
        app, env, tokens = shutter
        server, port = serve(app, env, workers=workers)
        servers.append(server)
        ports = {"Shutter": (port, tokens)}
        for name, (floor_app, floor_tokens) in floors.items():
            server, floor_port = serve(floor_app, {"BENCH_PAGE_FILE": page_file}, workers=workers)
            servers.append(server)
            ports[name] = (floor_port, floor_tokens)
        return await compare(ports, seconds)
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)


def report(results: dict[str, dict[str, float]], how: str) -> None:
    log(f"\nfeed(first: 10) over HTTP, {CONCURRENCY} concurrent, {how}:")
    for name, r in results.items():
        log(
            f"  {name:<20} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms"
            f"  p99 {r['p99_ms']:6.1f} ms"
        )


# ---------------------------------------------------------------- floors


def redis_zadd_floor(redis_url: str, inserts: int) -> float:
    """redis-benchmark's pipelined ZADD on the same server: what Redis itself can take."""
    parts = urlsplit(redis_url)
    binary = shutil.which("redis-benchmark")
    if binary is None:
        raise RuntimeError("redis-benchmark is not installed (Debian package redis-tools)")
    out = subprocess.run(
        [
            binary,
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 6379),
            "-n",
            str(inserts),
            "-P",
            "1000",
            "-r",
            "100000",
            "-q",
            "-t",
            "zadd",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    match = re.search(r"ZADD: ([\d.]+) requests per second", out)
    assert match, out
    return float(match.group(1))


# ---------------------------------------------------------------- main


async def make_active(runtime: Runtime, user_ids: list[int]) -> None:
    """Give these users an (empty, complete) feed window, as if they opened the app lately."""
    ttl = runtime.feeds.ttl
    for i in range(0, len(user_ids), 10_000):
        async with runtime.redis.pipeline(transaction=False) as pipe:
            for uid in user_ids[i : i + 10_000]:
                pipe.zadd(feed_key(uid), {BASE: 0})
                pipe.expire(feed_key(uid), ttl + SET_OUTLIVES_FLOOR_SECONDS)
                pipe.set(floor_key(uid), pad(0), ex=ttl)
            await pipe.execute()


async def sql_count(http: httpx.AsyncClient, token: str) -> int:
    response = await http.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}
    )
    body = response.json()
    assert "errors" not in body, body
    return int(body["extensions"]["sqlStatements"])


async def run(args: argparse.Namespace) -> None:
    quick = args.quick
    users, posts, star_followers = (
        (2_000, 20_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    )
    seconds = 5.0 if quick else 15.0
    async with scratch_database("shutter_bench") as (database_url, redis_url):
        await _run(quick, users, posts, star_followers, seconds, database_url, redis_url)


async def _run(
    quick: bool,
    users: int,
    posts: int,
    star_followers: int,
    seconds: float,
    database_url: str,
    redis_url: str,
) -> None:
    settings = Settings(
        environment="development",
        database_url=database_url,
        redis_url=redis_url,
        fanout_max_followers=10_000,
    )
    runtime = await start(settings, database_url=database_url, redis_url=redis_url)
    await runtime.redis.flushdb()
    conn = await asyncpg.connect(database_url)
    started = time.perf_counter()
    world = await seed(
        conn,
        users=users,
        posts=posts,
        star_followers=star_followers,
        heavy_users=50 if quick else 200,
    )
    await conn.close()
    log(
        f"seeded {users:,} users (+{star_followers:,} followers of one account),"
        f" {world['follows']:,} follows, {posts:,} posts in {time.perf_counter() - started:.1f} s"
    )

    # 4b. Rebuild latency of returning users who follow 1,000 accounts.
    heavy = world["heavy"]
    rebuilds = []
    for uid in heavy:
        t = time.perf_counter()
        await feed.rebuild(user_id=uid, stores=runtime.feed_stores)
        rebuilds.append((time.perf_counter() - t) * 1000)
    rebuilds.sort()
    rebuild_p50 = rebuilds[len(rebuilds) // 2]
    rebuild_p99 = rebuilds[min(len(rebuilds) - 1, int(len(rebuilds) * 0.99))]
    log(
        f"rebuild of a returning user following 1,000 accounts: p50 {rebuild_p50:.0f} ms,"
        f" p99 {rebuild_p99:.0f} ms (n={len(rebuilds)}; target p99 < 200 ms)"
    )

    # 3. Fan-out of one post to 100,000 active followers, next to Redis's own ZADD.
    followers_100k = world["star_followers"][:100_000]
    await make_active(runtime, followers_100k)
    author = world["star"]
    # forced below the hybrid limit
    big_stores = dataclasses.replace(runtime.feed_stores, max_followers=10**9)
    conn = await asyncpg.connect(database_url)
    if len(world["star_followers"]) > 100_000:
        # Measure 100k exactly: a second author whose followers are the first 100,000.
        author = world["user_ids"][-1]
        await conn.copy_records_to_table(
            "follows",
            records=((next_id(), f, author, "ACTIVE", datetime.now(UTC)) for f in followers_100k),
            columns=["id", "follower_id", "followee_id", "status", "created_at"],
        )
        await conn.execute(
            "UPDATE users SET follower_count = follower_count + 100000 WHERE id = $1", author
        )
    post_id = next_id()
    await insert_post(conn, author, post_id)
    t = time.perf_counter()
    inserted = await feed_flows.fan_out(post_id=post_id, stores=big_stores, ports=runtime.ports)
    fanout_s = time.perf_counter() - t
    fanout_rate = inserted / fanout_s
    zadd_floor = redis_zadd_floor(redis_url, 1_000_000)
    log(
        f"fan-out to {inserted:,} active feeds: {fanout_s:.2f} s = {fanout_rate:,.0f} inserts/s"
        f" (target >= 300,000); redis-benchmark pipelined ZADD on the same server:"
        f" {zadd_floor:,.0f}/s; ratio {fanout_rate / zadd_floor:.2f}"
    )

    # 4a. One post of the 1,000,000-follower account (forced below the hybrid limit).
    if not quick:
        await make_active(runtime, world["star_followers"])
        post_id = next_id()
        await conn.execute(
            "INSERT INTO posts (id, author_id, kind, caption, media_ids,"
            " hashtags, mention_ids, like_count, comment_count, save_count, created_at)"
            " VALUES ($1, $2, 'PHOTO', 'to a million', '[]', '[]', '[]', 0, 0, 0,"
            " now())",
            post_id,
            world["star"],
        )
        t = time.perf_counter()
        reached = await feed_flows.fan_out(post_id=post_id, stores=big_stores, ports=runtime.ports)
        log(
            f"a post of the 1,000,000-follower account reached {reached:,} active feeds in"
            f" {time.perf_counter() - t:.1f} s (one worker process)"
        )
    await conn.close()

    # 2. SQL statements per page, for a reader whose feed and caches are cold, then warm.
    readers = world["user_ids"][1:201]
    tokens = [
        create_access_token(user_id=u, secret=settings.jwt_secret, ttl_seconds=3600)
        for u in readers
    ]
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MINUTE": "1000000",
    }
    server, port = serve("config.asgi:create_app", env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            cold_sql = await sql_count(http, tokens[0])
            warm_sql = await sql_count(http, tokens[0])
        log(f"SQL statements per feed page: cold {cold_sql} (the feed is built), warm {warm_sql}")
    finally:
        server.terminate()
        server.wait(10)

    # 1. The feed over HTTP in its default order (RANKED), as the ranking worker leaves it:
    # each reader's feed scored. The load runs against the production configuration (no SQL
    # statement counting).
    for reader in readers:
        await ranking.rank_feed(user_id=reader, stores=runtime.feed_stores)
    secret = "bench-" + "x" * 40
    prod_tokens = [create_access_token(user_id=u, secret=secret, ttl_seconds=3600) for u in readers]
    prod_env = {**env, "ENVIRONMENT": "production", "JWT_SECRET": secret}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(await first_page(prod_env, prod_tokens[0]), f)
    floors = {
        "static Strawberry": ("bench.floors:static_strawberry_app", tokens),
        "raw Starlette JSON": ("bench.floors:raw_json_app", tokens),
    }
    try:
        # One process each: the cost per request, against the floors.
        results = await http_comparison(
            ("config.asgi:create_app", prod_env, prod_tokens), floors, f.name, seconds, workers=1
        )
        # As deployed on this machine, one process per core: the latency readers get.
        per_core = await http_comparison(
            ("config.asgi:create_app", prod_env, prod_tokens),
            {"static Strawberry": floors["static Strawberry"]},
            f.name,
            seconds,
            workers=os.cpu_count() or 1,
        )
    finally:
        os.unlink(f.name)
    await runtime.close()
    shutter = results["Shutter"]
    static = results["static Strawberry"]
    report(results, f"{seconds:.0f} s each in {ROUNDS} alternating turns, one uvicorn process each")
    log(
        f"  Shutter / static Strawberry: {shutter['rps'] / static['rps']:.2f};"
        f" Shutter / raw JSON: {shutter['rps'] / results['raw Starlette JSON']['rps']:.2f}"
    )
    report(per_core, f"{os.cpu_count()} uvicorn processes each (one per core)")
    log(
        "  Shutter / static Strawberry:"
        f" {per_core['Shutter']['rps'] / per_core['static Strawberry']['rps']:.2f}"
    )
    log("")
    log(f"feed_rps_vs_static_strawberry: {shutter['rps'] / static['rps']:.3f}")
    log(f"feed_p99_ms: {shutter['p99_ms']:.1f}")
    log(f"sql_per_page_cold: {cold_sql}")
    log(f"sql_per_page_warm: {warm_sql}")
    log(f"fanout_inserts_per_s: {fanout_rate:.0f}")
    log(f"fanout_vs_redis_zadd_floor: {fanout_rate / zadd_floor:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
