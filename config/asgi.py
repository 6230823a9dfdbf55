"""The ASGI application: `/graphql` (HTTP and WebSocket), health, readiness and metrics.

Run it with `shutter api` (or `uvicorn config.asgi:app`); DATABASE_URL and REDIS_URL must point at
running servers (`shutter api` starts the embedded ones when they are not set).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from strawberry.extensions import SchemaExtension
from tortoise import connections

from config import graphiql
from config.body_limit import BodyLimit
from config.database import StatementLog, current_statements
from config.graphql_view import PREFLIGHT_HEADERS, ShutterGraphQL, graphiql_page
from config.logging import configure_logging
from config.metrics import (
    MetricsMiddleware,
    metrics_endpoint,
    ranking_gauges,
    realtime_gauges,
    replica_gauges,
)
from config.proxies import TrustedProxies
from config.runtime import Runtime, settle_heap, start
from config.settings import ConfigError, Settings, load_settings
from config.shedding import LoadShedding
from config.uploads import PublicMedia, upload_endpoint
from schema.root import build_schema

log = logging.getLogger(__name__)


class SQLStatementCount(SchemaExtension):
    """Reports the SQL statements an operation ran in `extensions.sqlStatements` (not in
    production): what the N+1 tests pin and the benchmarks print."""

    def on_operation(self) -> Iterator[None]:
        self._log = StatementLog()
        token = current_statements.set(self._log)
        try:
            yield
        finally:
            current_statements.reset(token)

    def get_results(self) -> dict[str, Any]:
        return {"sqlStatements": self._log.count}


async def _refresh_gauges(runtime: Runtime) -> None:
    replica_gauges()
    await ranking_gauges(runtime.redis)


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    if not settings.database_url or not settings.redis_url:
        raise ConfigError(
            "Config 'DATABASE_URL' and 'REDIS_URL' must be set for the API process; "
            "`shutter serve` or `shutter api` start embedded servers and set them for you."
        )
    database_url, redis_url = settings.database_url, settings.redis_url
    holder: dict[str, Any] = {}

    async def readyz(_: Request) -> JSONResponse:
        runtime = holder.get("runtime")
        checks: dict[str, bool] = {"postgres": False, "redis": False}
        if runtime is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await connections.get("default").execute_query("/* readyz */ SELECT 1")
                    checks["postgres"] = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    checks["redis"] = bool(await runtime.redis.ping())
            if settings.redis_queue_url:  # the job queues' own Redis
                checks["queue"] = False
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        checks["queue"] = bool(await runtime.queue.ping())
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    extensions = [] if settings.environment == "production" else [SQLStatementCount]
    schema = build_schema(settings, extra_extensions=extensions)

    class LazyGraphQL:
        """The view needs the runtime, which exists only once the lifespan has started."""

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await holder["view"](scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        runtime = await start(
            settings, database_url=database_url, redis_url=redis_url, read_replicas=True
        )
        holder["runtime"] = runtime
        holder["view"] = ShutterGraphQL(schema, runtime)
        realtime_gauges(lambda: len(runtime.hub.channels))
        settle_heap()
        try:
            yield
        finally:
            await runtime.close()

    graphql = LazyGraphQL()
    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/uploads/{key:path}", upload_endpoint(lambda: holder["runtime"]), methods=["PUT"]),
    ]
    if settings.metrics_token or settings.environment != "production":
        routes.append(
            Route(
                "/metrics",
                metrics_endpoint(
                    settings.metrics_token, lambda: _refresh_gauges(holder["runtime"])
                ),
            )
        )
    else:
        log.info("/metrics is off: set METRICS_TOKEN to serve it to a scraper with that token")
    if settings.graphiql_enabled:  # its files from here, never a CDN (config/graphiql)
        _, files = graphiql_page()
        routes.append(Route(f"{graphiql.PREFIX}/{{path:path}}", graphiql.asset_endpoint(files)))
    if not settings.uses_s3:
        settings.media_root.mkdir(parents=True, exist_ok=True)
        routes.append(Mount("/media", PublicMedia(directory=settings.media_root), name="media"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(
        LoadShedding,
        max_in_flight=settings.max_in_flight,
        max_running=settings.max_running,
        max_wait=settings.redis_timeout_ms / 1000,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Outermost but for the metrics: a preflight is answered before any route runs.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "OPTIONS"],
            # What Apollo, urql and upload clients send (besides the simple headers).
            allow_headers=[
                "authorization",
                "content-type",
                *PREFLIGHT_HEADERS,
                "x-apollo-operation-name",
                "apollographql-client-name",
                "apollographql-client-version",
                "range",  # a video player's partial reads of /media
            ],
            expose_headers=["Retry-After", "Content-Range", "Accept-Ranges"],
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(TrustedProxies, trusted=settings.proxy_networks)
    return app
