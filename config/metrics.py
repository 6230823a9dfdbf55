"""Prometheus metrics: a pure ASGI middleware (no BaseHTTPMiddleware, so contextvars survive)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.ranking.served import FAILURES_KEY, served_info
from domain.replicas import installed

REQUESTS = Counter(
    "shutter_http_requests_total", "HTTP requests by route and status", ["route", "status"]
)
LATENCY = Histogram(
    "shutter_http_request_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
KNOWN_ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics"})


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in KNOWN_ROUTES else "other"
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            REQUESTS.labels(route, str(status)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)


def metrics_endpoint(
    token: str | None, refresh: Callable[[], Awaitable[None]] | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """/metrics; with a token, only for `Authorization: Bearer <token>` (a scraper's
    bearer_token setting). `refresh` updates the gauges read from shared state first."""
    expected = f"Bearer {token}".encode() if token else None

    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(
                    "Send 'Authorization: Bearer <METRICS_TOKEN>'.\n",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        if refresh is not None:
            with contextlib.suppress(Exception):  # an outage leaves the last figures
                async with asyncio.timeout(1):
                    await refresh()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics


TRAY_ANSWERS = Counter(
    "shutter_story_trays_total",
    "Story tray queries by answer: kept (a kept tray still valid) or made (assembled)",
    ["answer"],
)
REALTIME_CHANNELS = Gauge("shutter_realtime_channels", "Redis channels this process listens to")
ASYNCIO_TASKS = Gauge("shutter_asyncio_tasks", "asyncio tasks alive in this process")


RANKING_REFUSED = Gauge(
    "shutter_ranking_models_refused",
    "Ranking model files the workers refused (corrupt or of an incompatible format)",
)
RANKING_MODEL_AGE = Gauge(
    "shutter_ranking_model_age_seconds", "Age of the served ranking model (-1: none yet)"
)


async def ranking_gauges(redis: Any) -> None:
    """The served ranking model's state, as the workers left it in Redis."""
    RANKING_REFUSED.set(float(await redis.get(FAILURES_KEY) or 0))
    info = await served_info(redis)
    if info is None:
        RANKING_MODEL_AGE.set(-1)
    else:
        trained = datetime.fromisoformat(info["trained_at"])
        RANKING_MODEL_AGE.set((datetime.now(UTC) - trained).total_seconds())


REPLICA_USABLE = Gauge(
    "shutter_replica_usable", "1 while this process reads from the replica", ["replica"]
)
REPLICA_LAG = Gauge(
    "shutter_replica_lag_seconds",
    "The replica's replay lag at the last check (-1: it did not answer)",
    ["replica"],
)


REPLICA_READS = Gauge(
    "shutter_replica_reads", "Reads this process has had served by the replica", ["replica"]
)


def replica_gauges() -> None:
    """The read replicas as this process sees them (domain/replicas)."""
    replica_set = installed()
    usable = set(replica_set.usable)
    for name, lag in replica_set.lags.items():
        REPLICA_USABLE.labels(name).set(1.0 if name in usable else 0.0)
        REPLICA_LAG.labels(name).set(-1.0 if lag is None else lag)
        REPLICA_READS.labels(name).set(float(replica_set.reads[name]))


def realtime_gauges(channels: Callable[[], int]) -> None:
    """Expose the live-subscription state of this process: what a leak would show in."""
    REALTIME_CHANNELS.set_function(lambda: float(channels()))
    ASYNCIO_TASKS.set_function(lambda: float(len(asyncio.all_tasks())))
