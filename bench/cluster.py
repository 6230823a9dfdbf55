"""Shutter on a 3-master Redis Cluster next to one standalone Redis, in one run.

One seeded world in Postgres (bench/feed.py's: power-law follows, a star account); the same
API process configuration on each Redis in turn:

- feed read throughput over HTTP (32 keep-alive clients, a first page of the feed), in
  alternating turns so a slow spell of the machine falls on both alike;
- fan-out inserts/s: one post of the star into every active follower's feed (the fan-out
  flow, in this process), three times each;
- the connections one API process opens to each Redis node;
- failover: under feed load, one master is SIGKILLed; the time until requests succeed again.

This machine has 2 cores and a cluster of 6 Redis processes on it, so the ratios show what
cluster mode costs, not what it gains (the goal is >= 0.8 of standalone per API process).

    DATABASE_URL=postgresql://... REDIS_URL=redis://127.0.0.1:6379/7 python bench/cluster.py
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feed import CONCURRENCY, QUERY, make_active, seed, warm
from bench.services import (
    insert_post,
    read_reply,
    request_bodies,
    scratch_database,
    serve,
)
from config.runtime import Runtime, start
from config.settings import Settings
from domain.feed import flows as feed_flows
from domain.feed.store import FEED_SIZE, feed_key
from domain.ids import next_id
from domain.users.tokens import create_access_token
from tests.servers import RedisClusterServers


def log(message: str) -> None:
    print(message, flush=True)


async def tolerant_worker(
    port: int, bodies: list[bytes], deadline: float, outcomes: list[tuple[float, bool]]
) -> None:
    """A keep-alive client that records (when, answered without errors) per request and
    reconnects after a refused or broken connection."""
    i = 0
    while time.perf_counter() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            while time.perf_counter() < deadline:
                body = bodies[i % len(bodies)]
                i += 1
                writer.write(body)
                await writer.drain()
                head, answer = await read_reply(reader)
                ok = head.startswith(b"HTTP/1.1 200") and b'"errors"' not in answer
                outcomes.append((time.perf_counter(), ok))
        except (OSError, asyncio.IncompleteReadError):
            outcomes.append((time.perf_counter(), False))
        finally:
            writer.close()


async def feed_rps(port: int, tokens: list[str], seconds: float) -> float:
    bodies = request_bodies(port, QUERY, tokens)
    outcomes: list[tuple[float, bool]] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(tolerant_worker(port, bodies, started + seconds, outcomes) for _ in range(CONCURRENCY))
    )
    good = sum(ok for _, ok in outcomes)
    assert good == len(outcomes), f"{len(outcomes) - good} of {len(outcomes)} failed"
    return good / (time.perf_counter() - started)


async def fanout_rate(
    runtime: Runtime, author: int, followers: list[int], database_url: str
) -> float:
    """Inserts/s of one post of `author` into the feeds of `followers` (made active first)."""
    await make_active(runtime, followers)
    conn = await asyncpg.connect(database_url)
    try:
        post_id = next_id()
        await insert_post(conn, author, post_id)
    finally:
        await conn.close()
    stores = dataclasses.replace(runtime.feed_stores, max_followers=10**9)
    began = time.perf_counter()
    inserted = await feed_flows.fan_out(post_id=post_id, stores=stores, ports=runtime.ports)
    return inserted / (time.perf_counter() - began)


async def node_clients(urls: list[str], *, db: int | None = None) -> int:
    """Client connections the nodes hold now, all told (with `db`: those on that database)."""
    total = 0
    for url in urls:
        node = Redis.from_url(url)
        try:
            clients = await node.client_list()
            total += sum(1 for c in clients if db is None or int(c["db"]) == db)
        finally:
            await node.aclose()
    return total


async def run(args: argparse.Namespace) -> None:
    quick = args.quick
    users, posts, star_followers = (2_000, 10_000, 20_000) if quick else (5_000, 50_000, 100_000)
    seconds = 4.0 if quick else 10.0
    rounds = 3 if quick else 5
    folder = Path(tempfile.mkdtemp(prefix="shutter-bench-cluster-"))
    cluster = RedisClusterServers(folder, masters=3, node_timeout_ms=2_000).start()
    try:
        async with scratch_database("shutter_bench_cluster") as (database_url, redis_url):
            await _run(
                cluster, database_url, redis_url, users, posts, star_followers, seconds, rounds
            )
    finally:
        cluster.stop()


async def _run(
    cluster: RedisClusterServers,
    database_url: str,
    redis_url: str,
    users: int,
    posts: int,
    star_followers: int,
    seconds: float,
    rounds: int,
) -> None:
    queue_url = re.sub(r"/\d+$", "", redis_url) + "/8"
    topologies = {
        "standalone": {"REDIS_URL": redis_url},
        "cluster": {
            "REDIS_URL": cluster.url,
            "REDIS_CLUSTER": "true",
            "REDIS_QUEUE_URL": queue_url,
        },
    }
    runtimes: dict[str, Runtime] = {}
    for name, env in topologies.items():
        settings = Settings(
            environment="development",
            database_url=database_url,
            redis_url=env["REDIS_URL"],
            redis_queue_url=env.get("REDIS_QUEUE_URL"),
            redis_cluster=name == "cluster",
        )
        runtimes[name] = await start(
            settings, database_url=database_url, redis_url=env["REDIS_URL"]
        )
        await runtimes[name].redis.flushdb()
    conn = await asyncpg.connect(database_url)
    world = await seed(
        conn, users=users, posts=posts, star_followers=star_followers, heavy_users=10
    )
    await conn.close()
    log(f"seeded {users:,} users, {posts:,} posts, a star with {star_followers:,} followers")
    secret = runtimes["standalone"].settings.jwt_secret
    tokens = [
        create_access_token(user_id=u, secret=secret, ttl_seconds=3600)
        for u in world["user_ids"][1:201]
    ]

    # What a full feed holds in memory (the capacity figure of the README's 100 million users).
    store = runtimes["standalone"].feeds
    reader = world["user_ids"][1]
    entries = [(next_id(), world["star"]) for _ in range(FEED_SIZE)]
    await store.replace(reader, sorted(entries, reverse=True), floor=min(e[0] for e in entries))
    feed_bytes = await runtimes["standalone"].redis.memory_usage(feed_key(reader), samples=0)
    log(
        f"a full feed ({FEED_SIZE:,} entries): {feed_bytes:,} bytes in Redis,"
        f" {feed_bytes / FEED_SIZE:.0f} bytes per entry"
    )
    await store.drop_feed(reader)

    # Fan-out, alternating.
    rates: dict[str, list[float]] = {name: [] for name in topologies}
    for _ in range(3):
        for name, runtime in runtimes.items():
            rates[name].append(
                await fanout_rate(runtime, world["star"], world["star_followers"], database_url)
            )
    for name, values in rates.items():
        log(
            f"fan-out on {name}: {statistics.median(values):,.0f} inserts/s (runs: "
            + ", ".join(f"{v:,.0f}" for v in values)
            + ")"
        )

    # Feed reads over HTTP, alternating turns.
    base = {
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MINUTE": "100000000",
    }
    nodes = [f"redis://127.0.0.1:{port}/0" for port in cluster.ports]
    before = await node_clients(nodes)
    standalone_db = int(redis_url.rsplit("/", 1)[1] or 0)
    before_standalone = await node_clients([redis_url], db=standalone_db)
    servers = {
        name: serve("config.asgi:create_app", {**base, **env}) for name, env in topologies.items()
    }
    try:
        for _, port in servers.values():
            await warm(port, tokens)  # every reader's feed built, the caches filled
        connections = await node_clients(nodes) - before
        alone = await node_clients([redis_url], db=standalone_db) - before_standalone
        log(
            f"connections of one API process after load: {connections} to the cluster's 6 nodes,"
            f" {alone} to the standalone Redis"
        )
        rps: dict[str, list[float]] = {name: [] for name in topologies}
        for _ in range(rounds):
            for name, (_, port) in servers.items():
                rps[name].append(await feed_rps(port, tokens, seconds))
        for name, values in rps.items():
            log(
                f"feed reads on {name}: {statistics.median(values):,.0f} requests/s (runs: "
                + ", ".join(f"{v:,.0f}" for v in values)
                + ")"
            )

        # Failover under load.
        _, port = servers["cluster"]
        bodies = request_bodies(port, QUERY, tokens)
        outcomes: list[tuple[float, bool]] = []
        load_until = time.perf_counter() + 20
        loading = asyncio.gather(
            *(tolerant_worker(port, bodies, load_until, outcomes) for _ in range(8))
        )
        await asyncio.sleep(2)
        killed = time.perf_counter()
        cluster.kill(cluster.victim())
        promoted = await asyncio.to_thread(cluster.wait_failover)
        await loading
        failures = [at for at, ok in outcomes if not ok and at >= killed]
        recovery = (max(failures) - killed) if failures else 0.0
        log(
            f"failover: replica promoted {promoted:.1f} s after the kill; requests failed for"
            f" {recovery:.1f} s ({len(failures)} of {len(outcomes)} requests)"
        )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(10)
        for runtime in runtimes.values():
            await runtime.close()

    feed_ratio = statistics.median(rps["cluster"]) / statistics.median(rps["standalone"])
    fanout_ratio = statistics.median(rates["cluster"]) / statistics.median(rates["standalone"])
    print(f"cluster_feed_rps_vs_standalone: {feed_ratio:.2f}")
    print(f"cluster_fanout_vs_standalone: {fanout_ratio:.2f}")
    print(f"failover_recovery_s: {recovery:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller world, shorter runs")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
