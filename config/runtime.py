"""The composition root: builds every client one process needs, once, and tears them down.

The API app, the workers, the CLI and the tests all start through `start()`, so they share one
way of connecting and nothing reaches for a global client on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from aiocache import RedisCache
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from tortoise import Tortoise

from config.database import replica_client, tortoise_config
from config.redis_reads import ClusterReads, PipelinedReads
from config.redis_url import RedisAddress, SentinelAddress, is_sentinel
from config.settings import ConfigError, Settings
from domain import ids, replicas
from domain.budgets import Budgets, parse_budgets
from domain.cache import OrjsonSerializer
from domain.feed.service import FeedStores
from domain.feed.store import FeedStore
from domain.media.object_store import LocalStore, ObjectStore, S3Store
from domain.media.store import MediaStore
from domain.ports import Ports
from domain.posts.service import Stores
from domain.posts.store import PostStore
from domain.ranking.served import ServedModel
from domain.realtime.events import RedisEvents
from domain.realtime.hub import Hub
from domain.stories.store import StoryStore
from domain.stories.tray_cache import TrayCache
from domain.users.store import UserStore
from workers.queues import ArqJobs

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    queue: ArqRedis  # arq's pool, for workers and tests; flows enqueue through `ports`
    ports: Ports
    store: ObjectStore
    users: UserStore
    media: MediaStore
    posts: PostStore
    feeds: FeedStore
    stories: StoryStore
    trays: TrayCache  # assembled story trays, kept while nothing in them changes
    hub: Hub
    budgets: Budgets
    ranking: ServedModel  # the hot-loaded ranking model (loaded on first use)
    reads: PipelinedReads | ClusterReads
    _cache: RedisCache
    _id_holder: str
    _id_keeper: asyncio.Task[None]

    @property
    def post_stores(self) -> Stores:
        return Stores(
            redis=self.redis,
            users=self.users,
            media=self.media,
            posts=self.posts,
            feeds=self.feeds,
        )

    @property
    def feed_stores(self) -> FeedStores:
        return FeedStores(
            feeds=self.feeds,
            users=self.users,
            posts=self.posts,
            media=self.media,
            max_followers=self.settings.fanout_max_followers,
        )

    async def close(self) -> None:
        await self.hub.close()
        await self.store.close()
        await close_sentinels(self.queue)
        await self.queue.aclose()
        # aiocache's own close() calls redis-py's deprecated close(); close the client directly.
        await self._cache.client.aclose()
        await self.redis.aclose()
        await self.reads.close()
        self._id_keeper.cancel()
        await replicas.installed().close()
        with contextlib.suppress(Exception):  # a lease not given back ends by itself
            await ids.release_slot(self._id_holder)
        await Tortoise.close_connections()


class HiredisPackedConnection(Connection):
    """redis-py's asyncio connection packs commands in Python; hiredis packs them in C, a
    quarter less CPU for a feed page's pipelines."""

    def pack_command(self, *args: Any) -> list[bytes]:
        head = args[0]
        if isinstance(head, str | bytes) and (
            " " in head if isinstance(head, str) else b" " in head
        ):
            args = (*head.split(), *args[1:])  # "SCRIPT LOAD" and the like are two words
        return [hiredis.pack_command(args)]


def _fast(redis_url: str) -> dict[str, Any]:
    """Connection options: hiredis packing for plain TCP (TLS and sockets keep redis-py's)."""
    return {"connection_class": HiredisPackedConnection} if redis_url.startswith("redis://") else {}


def _cache_for(redis_url: str, *, timeout: float | None) -> RedisCache:
    cache = RedisCache(namespace="c", serializer=OrjsonSerializer())
    # aiocache builds its client from host, port, db and password alone (no ACL user, no
    # unix socket, no cluster): give it one made from the URL by redis-py itself, as every
    # other client.
    cache.client = Redis.from_url(
        redis_url, decode_responses=False, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    return cache


async def _cluster_client(redis_url: str, *, wait_seconds: float, decode_responses: bool) -> Any:
    """A RedisCluster client that has read the slot map and learnt every node (so that it
    finds the cluster again when the node of the URL is gone)."""
    client = RedisCluster.from_url(
        redis_url,
        decode_responses=decode_responses,
        socket_timeout=wait_seconds,
        socket_connect_timeout=wait_seconds,
    )
    if redis_url.startswith("redis://"):  # hiredis packing, as for one Redis
        client.connection_kwargs["connection_class"] = HiredisPackedConnection
        for known in client.get_nodes():
            known.connection_class = HiredisPackedConnection
    await client.initialize()
    return client


async def is_cluster(redis_url: str, *, wait_seconds: float) -> bool:
    """Whether the Redis of this URL is a node of a Redis Cluster (INFO cluster)."""
    probe = Redis.from_url(
        redis_url, socket_timeout=wait_seconds, socket_connect_timeout=wait_seconds
    )
    try:
        info = await probe.info("cluster")
    finally:
        await probe.aclose()
    return bool(info.get("cluster_enabled"))


async def close_sentinels(queue: Any) -> None:
    """arq closes a Sentinel-found pool's connections to the Redis, not those to the
    Sentinels themselves: close them too."""
    manager = getattr(getattr(queue, "connection_pool", None), "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.aclose()


def arq_settings(redis_url: str, **overrides: Any) -> RedisSettings:
    """arq's settings for the Redis of this URL, read as redis-py reads it (or, for a
    `redis+sentinel://` URL, the Redis its Sentinels name the master)."""
    if is_sentinel(redis_url):
        watched = SentinelAddress.from_url(redis_url)
        return RedisSettings(
            host=list(watched.sentinels),
            sentinel=True,
            sentinel_master=watched.master,
            database=watched.db,
            username=watched.username,
            password=watched.password,
            ssl=watched.tls,
            **overrides,
        )
    address = RedisAddress.from_url(redis_url)
    return RedisSettings(
        host=address.host,
        port=address.port,
        unix_socket_path=address.unix_path,
        database=address.db,
        username=address.username,
        password=address.password,
        ssl=address.tls,
        ssl_cert_reqs="required" if address.verify_tls else "none",
        **overrides,
    )


async def start(
    settings: Settings, *, database_url: str, redis_url: str, read_replicas: bool = False
) -> Runtime:
    """The process's clients. `read_replicas`: this process serves GraphQL queries, whose
    reads may go to DATABASE_REPLICA_URLS (only the API's do: see domain/replicas); the others
    neither connect to the replicas nor watch their lag."""
    # Global fallback: requests, jobs and DataLoader batches run in tasks other than the one
    # that started the process, and all of them must see the same connections.
    await Tortoise.init(
        config=tortoise_config(
            database_url,
            pool_size=settings.database_pool_size,
            timeout_ms=settings.database_timeout_ms,
            pgbouncer=settings.database_pgbouncer,
        ),
        _enable_global_fallback=True,
    )
    lag_bound = settings.database_replica_max_lag_ms / 1000
    replica_set = replicas.Replicas(
        {
            f"replica{n}": replica_client(
                f"replica{n}",
                url,
                pool_size=settings.database_pool_size,
                timeout_ms=settings.database_timeout_ms,
                pgbouncer=settings.database_pgbouncer,
            )
            for n, url in enumerate(settings.replica_urls if read_replicas else ())
        },
        max_lag_seconds=lag_bound,
        sticky_seconds=lag_bound + replicas.CHECK_SECONDS + 1,
    )
    replicas.install(replica_set)
    if replica_set.names:
        await replica_set.check()
        replica_set.watch()
    timeout = settings.redis_timeout_ms / 1000
    cluster = settings.redis_cluster
    if cluster is None:
        cluster = await is_cluster(redis_url, wait_seconds=timeout)
    if cluster and not settings.redis_queue_url:
        raise ConfigError(
            "REDIS_URL is a Redis Cluster, which arq's job queues cannot use: set REDIS_QUEUE_URL"
            " to a standalone Redis (or a Sentinel-managed one) for them"
        )
    redis: Redis
    reads: PipelinedReads | ClusterReads
    if cluster:
        node = await _cluster_client(redis_url, wait_seconds=timeout, decode_responses=True)
        redis = cast(Redis, node)
        reads = ClusterReads(node, redis_url, timeout=timeout)
    else:
        redis = Redis.from_url(
            redis_url,
            decode_responses=True,
            health_check_interval=30,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            **_fast(redis_url),
        )
        reads = PipelinedReads(redis_url, timeout=timeout)
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    ids.install_generator(await ids.lease_slot(holder))
    keeper = asyncio.create_task(ids.keep_slot(holder), name="id-slot-lease")
    cache = _cache_for(redis_url, timeout=timeout)
    if cluster:  # as the commands' client: every node learnt now, while the URL's answers
        cache.client = await _cluster_client(
            redis_url, wait_seconds=timeout, decode_responses=False
        )
    queue = await create_pool(arq_settings(settings.queue_url(redis_url), conn_timeout=timeout))
    # arq bounds connecting only; an enqueue on the request path must not hang either.
    queue.connection_pool.connection_kwargs["socket_timeout"] = timeout
    store = build_store(settings)
    return Runtime(
        settings=settings,
        redis=redis,
        queue=queue,
        ports=Ports(jobs=ArqJobs(queue), events=RedisEvents(redis)),
        store=store,
        users=(users := UserStore(cache, redis, reads, ttl_seconds=settings.cache_ttl_seconds)),
        media=MediaStore(cache, redis, reads, ttl_seconds=settings.cache_ttl_seconds),
        posts=PostStore(cache, redis, reads, ttl_seconds=settings.cache_ttl_seconds),
        feeds=FeedStore(redis, reads, active_days=settings.feed_active_days),
        stories=StoryStore(cache, redis, reads, ttl_seconds=settings.cache_ttl_seconds),
        trays=TrayCache(redis, reads, users, max_age_seconds=settings.tray_cache_seconds),
        hub=Hub(redis),
        budgets=Budgets(redis, parse_budgets(settings.action_budgets)),
        ranking=ServedModel(redis, store, check_seconds=settings.ranking_model_check_seconds),
        reads=reads,
        _cache=cache,
        _id_holder=holder,
        _id_keeper=keeper,
    )


# Collect young objects every 50,000 net allocations instead of every 700: a GraphQL request
# allocates thousands of short-lived objects, and a collection per request or two cost the feed
# a fifth of its time in the benchmark.
GC_YOUNG_THRESHOLD = 50_000


def settle_heap() -> None:
    """Call once a long-running process has started: what start-up built (modules, the schema,
    pools) lives as long as the process, so move it out of the collector's sight (gc.freeze, as
    Instagram does for its Python servers) and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def build_store(settings: Settings) -> ObjectStore:
    if settings.s3_bucket:
        return S3Store(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            cdn_base_url=settings.cdn_base_url,
        )
    return LocalStore(
        settings.media_root,
        public_base_url=settings.public_base_url,
        cdn_base_url=settings.cdn_base_url,
        signing_secret=settings.jwt_secret,
    )
