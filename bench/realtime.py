"""Realtime benchmark: many WebSocket subscribers on one API process.

    python bench/realtime.py           # 1,000 and 10,000 subscribers
    python bench/realtime.py --quick   # 1,000 subscribers (within two minutes)

Each subscriber is a user listening to `messageReceived` over graphql-transport-ws. The bench
publishes one message event to each subscriber's channel in Redis (as a send does after its
commit) at a steady rate and times publish -> delivery on the client, which runs in this
process, so both ends read one clock. Memory per connection is the server's RSS growth divided
by the connections. Floor for the deliveries: the same events through a bare Redis pub/sub
subscriber in this process (no HTTP, no GraphQL). The last two lines are for tools to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil
import websockets
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.services import scratch_database, serve
from config.settings import Settings
from domain.ids import IdGenerator, install_generator, next_id
from domain.users.tokens import create_access_token

SUBSCRIBE = "subscription { messageReceived { id text } }"
RATE = 2_000  # events published per second


def raise_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def seed(database_url: str, count: int) -> tuple[list[int], int, int]:
    """`count` users and one message the events carry."""
    install_generator(IdGenerator(slot=8191))
    conn = await asyncpg.connect(database_url)
    now = datetime.now(UTC)
    users = [next_id() for _ in range(count)]
    await conn.copy_records_to_table(
        "users",
        records=(
            (uid, f"rt{i}", f"rt{i}@bench.test", "x", "", "", False, 0, 0, 0, now, now)
            for i, uid in enumerate(users)
        ),
        columns=[
            "id",
            "username",
            "email",
            "password_hash",
            "full_name",
            "bio",
            "is_private",
            "follower_count",
            "following_count",
            "post_count",
            "created_at",
            "updated_at",
        ],
    )
    thread_id, message_id = next_id(), next_id()
    await conn.execute(
        "INSERT INTO threads (id, kind, created_by, last_message_id, created_at)"
        " VALUES ($1, 'GROUP', $2, $3, now())",
        thread_id,
        users[0],
        message_id,
    )
    await conn.execute(
        "INSERT INTO messages (id, thread_id, sender_id, text, created_at)"
        " VALUES ($1, $2, $3, 'ping', now())",
        message_id,
        thread_id,
        users[0],
    )
    await conn.close()
    return users, thread_id, message_id


async def open_subscriber(port: int, token: str, on_message: asyncio.Queue[float]) -> object:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=4,
        ping_interval=None,
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await ws.recv())
    assert ack["type"] == "connection_ack", ack
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))

    async def read() -> None:
        async for raw in ws:
            if json.loads(raw).get("type") == "next":
                on_message.put_nowait(time.perf_counter())

    asyncio.get_running_loop().create_task(read())
    return ws


async def measure(
    port: int,
    server_pid: int,
    redis: Redis,
    users: list[int],
    thread_id: int,
    message_id: int,
    secret: str,
) -> dict[str, float]:
    process = psutil.Process(server_pid)
    rss_before = process.memory_info().rss
    queues: list[asyncio.Queue[float]] = [asyncio.Queue() for _ in users]
    sockets = []
    for i in range(0, len(users), 200):
        sockets += await asyncio.gather(
            *[
                open_subscriber(
                    port,
                    create_access_token(user_id=u, secret=secret, ttl_seconds=3600),
                    queues[i + j],
                )
                for j, u in enumerate(users[i : i + 200])
            ]
        )
    await asyncio.sleep(1.0)  # every subscription is listening
    rss_kb = (process.memory_info().rss - rss_before) / 1024 / len(users)

    event = json.dumps(
        {
            "threadId": thread_id,
            "message": {
                "id": message_id,
                "thread_id": thread_id,
                "sender_id": users[0],
                "text": "ping",
                "media_id": None,
                "post_id": None,
                "client_id": None,
                "created_at": datetime.now(UTC).isoformat(),
            },
        }
    )
    sent_at: list[float] = []
    batch = max(1, RATE // 100)
    for i in range(0, len(users), batch):
        started = time.perf_counter()
        async with redis.pipeline(transaction=False) as pipe:
            for uid in users[i : i + batch]:
                pipe.publish(f"user:{uid}:messages", event)
            sent_at += [time.perf_counter()] * len(users[i : i + batch])
            await pipe.execute()
        await asyncio.sleep(max(0.0, 0.01 - (time.perf_counter() - started)))
    latencies = []
    for sent, queue in zip(sent_at, queues, strict=True):
        received = await asyncio.wait_for(queue.get(), timeout=60)
        latencies.append((received - sent) * 1000)
    for ws in sockets:
        await ws.close()  # type: ignore[attr-defined]
    latencies.sort()
    return {
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "rss_kb": rss_kb,
    }


async def redis_floor(redis_url: str, count: int) -> dict[str, float]:
    """The same number of events through one bare pub/sub subscriber: Redis's own delivery."""
    publisher = Redis.from_url(redis_url)
    listener = Redis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe("bench:floor")
    latencies = []
    for _ in range(count):
        sent = time.perf_counter()
        await publisher.publish("bench:floor", "x")
        while await pubsub.get_message(ignore_subscribe_messages=True, timeout=5) is None:
            pass
        latencies.append((time.perf_counter() - sent) * 1000)
    await pubsub.aclose()
    await publisher.aclose()
    await listener.aclose()
    latencies.sort()
    return {"p50": latencies[len(latencies) // 2], "p99": latencies[int(len(latencies) * 0.99)]}


async def run(quick: bool) -> None:
    raise_file_limit()
    sizes = [1_000] if quick else [1_000, 10_000]
    async with scratch_database("shutter_bench_rt") as (database_url, redis_url):
        users, thread_id, message_id = await seed(database_url, max(sizes))
        settings = Settings(database_url=database_url, redis_url=redis_url)
        redis = Redis.from_url(redis_url)
        floor = await redis_floor(redis_url, 1_000)
        results = {}
        for size in sizes:
            server, port = serve(
                "config.asgi:create_app",
                {
                    "DATABASE_URL": database_url,
                    "REDIS_URL": redis_url,
                    "ENVIRONMENT": "development",
                    "LOG_LEVEL": "WARNING",
                    "DATABASE_POOL_SIZE": "20",
                },
            )
            try:
                results[size] = await measure(
                    port,
                    server.pid,
                    redis,
                    users[:size],
                    thread_id,
                    message_id,
                    settings.jwt_secret,
                )
            finally:
                server.terminate()
                server.wait(30)
            r = results[size]
            print(
                f"{size:>6,} subscribers on one process: publish -> deliver p50 "
                f"{r['p50']:.1f} ms, p99 {r['p99']:.1f} ms at {RATE:,} events/s;"
                f" {r['rss_kb']:.0f} KB of server memory per connection",
                flush=True,
            )
        await redis.aclose()
    print(
        f"floor, a bare Redis subscriber in this process: p50 {floor['p50']:.2f} ms,"
        f" p99 {floor['p99']:.2f} ms"
    )
    print()
    print(f"deliver_p99_ms_1000: {results[1_000]['p99']:.1f}")
    print(f"rss_kb_per_connection: {results[1_000]['rss_kb']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
