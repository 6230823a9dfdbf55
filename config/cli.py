"""`shutter`: serve, api, worker, migrate, seed.

With DATABASE_URL / REDIS_URL unset, every command starts (or attaches to) the embedded
PostgreSQL and Redis under DATA_DIR first, so one command is all a fresh checkout needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

from config.embedded import EMBEDDED_DATABASE, EmbeddedServices, ensure_database, start_embedded
from config.logging import configure_logging
from config.settings import ConfigError, Settings, load_settings
from config.supervise import Supervisor


@contextlib.contextmanager
def services(settings: Settings) -> Iterator[tuple[str, str]]:
    """(database URL, Redis URL): the configured ones, or embedded servers started here.

    The URLs are also put in the environment, so the processes started from here (uvicorn
    workers, arq workers) reach the same servers.
    """
    need_pg, need_redis = not settings.database_url, not settings.redis_url
    embedded: EmbeddedServices | None = None
    if need_pg or need_redis:
        print(
            f"Starting embedded {'PostgreSQL ' if need_pg else ''}"
            f"{'Redis ' if need_redis else ''}under {settings.data_dir} ...",
            flush=True,
        )
        embedded, admin_url = start_embedded(
            settings.data_dir, need_postgres=need_pg, need_redis=need_redis
        )
        if admin_url:
            asyncio.run(ensure_database(admin_url, EMBEDDED_DATABASE))
    database_url = settings.database_url or (embedded.database_url if embedded else None)
    redis_url = settings.redis_url or (embedded.redis_url if embedded else None)
    assert database_url
    assert redis_url
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    try:
        yield database_url, redis_url
    finally:
        if embedded is not None:
            embedded.stop()


async def _migrate(settings: Settings, database_url: str) -> None:
    from tortoise import Tortoise
    from tortoise.migrations.api.migrate import migrate

    from config.database import tortoise_config

    try:
        await migrate(config=tortoise_config(database_url, pool_size=2))
    finally:
        await Tortoise.close_connections()


async def _seed(settings: Settings, database_url: str, redis_url: str) -> bool:
    from config.runtime import start
    from config.seed import seed_demo

    runtime = await start(settings, database_url=database_url, redis_url=redis_url)
    try:
        return await seed_demo(runtime=runtime)
    finally:
        await runtime.close()


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    with services(settings) as (database_url, _redis_url):
        asyncio.run(_migrate(settings, database_url))
    print("Migrations applied.")
    return 0


async def _set_moderator(database_url: str, username: str, moderator: bool) -> bool:
    from tortoise import Tortoise

    from config.database import tortoise_config
    from domain.moderation.service import set_moderator

    await Tortoise.init(config=tortoise_config(database_url, pool_size=1))
    try:
        return await set_moderator(username=username, moderator=moderator)
    finally:
        await Tortoise.close_connections()


def cmd_moderator(settings: Settings, args: argparse.Namespace) -> int:
    """Grant or take back the moderator role (moderationQueue, resolveReport)."""
    granted = args.action == "add"
    with services(settings) as (database_url, _redis_url):
        asyncio.run(_migrate(settings, database_url))
        done = asyncio.run(_set_moderator(database_url, args.username, granted))
    if not done:
        print(f"No active account named {args.username!r}.", file=sys.stderr)
        return 1
    print(f"{args.username} is {'now' if granted else 'no longer'} a moderator.")
    return 0


def cmd_schema(settings: Settings, _: argparse.Namespace) -> int:
    """The GraphQL schema (SDL) on stdout, for codegen and clients: no service is needed."""
    from schema.root import build_schema

    print(str(build_schema(settings)))
    return 0


def cmd_recommend(settings: Settings, args: argparse.Namespace) -> int:
    """Train the ranking funnel on a CSV log and write each listed user's top K unseen items."""
    from pathlib import Path

    from domain.ranking.log import LogError
    from domain.ranking.recommend import run

    try:
        summary = run(Path(args.train), Path(args.users), args.k, Path(args.out), args.seed)
    except (LogError, OSError, UnicodeDecodeError) as error:
        print(f"shutter recommend: {error}", file=sys.stderr)
        return 2
    print(
        f"{summary.interactions} interactions, {summary.items} items; wrote the top {args.k} "
        f"of {summary.users} users to {args.out} in {summary.seconds:.1f} s"
        + (
            f" ({summary.unknown_users} not in the log: given what was popular at its end)"
            if summary.unknown_users
            else ""
        )
    )
    return 0


def cmd_seed(settings: Settings, _: argparse.Namespace) -> int:
    from config.seed import DEMO_PASSWORD, DEMO_USERNAME

    with services(settings) as (database_url, redis_url):
        asyncio.run(_migrate(settings, database_url))
        created = asyncio.run(_seed(settings, database_url, redis_url))
    print("Demo world created." if created else "Demo world already there.")
    print(f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}")
    return 0


def _uvicorn_options(host: str, port: int, log_level: str) -> dict[str, Any]:
    return {
        "app": "config.asgi:create_app",
        "factory": True,
        "host": host,
        "port": port,
        "log_level": log_level.lower(),
        "proxy_headers": False,  # X-Forwarded-For is config/proxies.py's (TRUSTED_PROXIES)
        "ws": "websockets-sansio",
    }


def _run_api(host: str, port: int, workers: int, log_level: str) -> None:
    import uvicorn

    uvicorn.run(**_uvicorn_options(host, port, log_level), workers=workers)


def _serve_announced(host: str, port: int, log_level: str, banner: str) -> None:
    """One API process that prints `banner` once it is listening (and never if it is not)."""
    import uvicorn

    class Announcing(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(banner, flush=True)

    Announcing(uvicorn.Config(**_uvicorn_options(host, port, log_level))).run()


def _public_address(host: str, port: int) -> str:
    """Where this server is reached, for local media and upload URLs (unless PUBLIC_BASE_URL
    says otherwise): the processes started from here read it from the environment."""
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{shown}:{port}")
    return shown


def _phones_hint(host: str, port: int) -> str:
    """A banner line for a server open to the network whose media URLs say 127.0.0.1."""
    if host not in {"0.0.0.0", "::"} or "127.0.0.1" not in os.environ["PUBLIC_BASE_URL"]:  # noqa: S104
        return ""
    return (
        f"  Media URLs: {os.environ['PUBLIC_BASE_URL']}: phones and other machines cannot"
        f" reach that; set PUBLIC_BASE_URL=http://<this machine's address>:{port}\n"
    )


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    if taken := _refuse_taken_port(args.host, args.port):
        print(taken, file=sys.stderr)
        return 2
    _public_address(args.host, args.port)
    if hint := _phones_hint(args.host, args.port):
        print(hint.rstrip())
    with services(settings):
        _run_api(args.host, args.port, args.workers, settings.log_level)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from workers.queues import QUEUES

    queues = list(dict.fromkeys(args.queue or QUEUES))
    if not args.queue:
        print(f"No --queue given: serving every queue ({', '.join(queues)}) in this process.")
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr="127.0.0.1")
        print(f"Metrics: http://127.0.0.1:{args.metrics_port}/metrics")
    with services(settings) as (database_url, redis_url):
        if len(queues) == 1:
            from workers.resilience import ResilientWorker
            from workers.settings import worker_settings

            ResilientWorker(
                **worker_settings(
                    settings,
                    queue=queues[0],
                    database_url=database_url,
                    redis_url=redis_url,
                    burst=args.burst,
                )
            ).run()
        else:
            asyncio.run(_run_workers(settings, queues, database_url, redis_url, args.burst))
    return 0


async def _run_workers(
    settings: Settings, queues: list[str], database_url: str, redis_url: str, burst: bool
) -> None:
    """One arq worker per queue in this process, sharing one runtime; SIGTERM or Ctrl-C stops
    them all, each finishing as arq does on a signal."""
    from config.runtime import settle_heap, start
    from workers.resilience import ResilientWorker
    from workers.settings import worker_settings

    runtime = await start(settings, database_url=database_url, redis_url=redis_url)
    settle_heap()
    workers = [
        ResilientWorker(
            **worker_settings(
                settings,
                queue=queue,
                database_url=database_url,
                redis_url=redis_url,
                burst=burst,
                runtime=runtime,
                handle_signals=False,
            )
        )
        for queue in queues
    ]
    running = asyncio.ensure_future(asyncio.gather(*(worker.main() for worker in workers)))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, running.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await running
    finally:
        for worker in workers:
            await worker.close()
        await runtime.close()


def _refuse_taken_port(host: str, port: int) -> str | None:
    """A one-line message when the port cannot be bound, before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return (
                f"Cannot listen on {host}:{port} ({error.strerror}): stop what is using the"
                " port, or choose another with --port."
            )
    return None


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from config.seed import DEMO_PASSWORD, DEMO_USERNAME
    from workers.queues import QUEUES

    if taken := _refuse_taken_port(args.host, args.port):
        print(taken, file=sys.stderr)
        return 2
    shown_host = _public_address(args.host, args.port)
    # The development system lets a frontend's dev server on any origin call it.
    cors = "any origin (CORS_ALLOW_ORIGINS names them instead)"
    if settings.cors_origins:
        cors = ", ".join(settings.cors_origins)
    elif settings.environment != "production":
        os.environ["CORS_ALLOW_ORIGINS"] = "*"
    else:
        cors = "same origin only (set CORS_ALLOW_ORIGINS)"
    with services(settings) as (database_url, redis_url):
        asyncio.run(_migrate(settings, database_url))
        created = asyncio.run(_seed(settings, database_url, redis_url))
        if created:
            print("Seeded the demo world.")
        workers = Supervisor(
            {
                f"worker {queue}": [sys.executable, "-m", "config.cli", "worker", "--queue", queue]
                for queue in QUEUES
            }
        ).start()
        banner = (
            f"\n  Shutter is up.\n"
            f"  GraphiQL:   http://{shown_host}:{args.port}/graphql\n"
            f"  Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}\n"
            f"  Browsers:   {cors}\n"
            f"{_phones_hint(args.host, args.port)}"
        )
        try:
            _serve_announced(args.host, args.port, settings.log_level, banner)
        finally:
            workers.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    from workers.queues import QUEUES

    parser = argparse.ArgumentParser(prog="shutter", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="everything in one command: services, API and worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    api = sub.add_parser("api", help="the GraphQL API server")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="API processes")
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser(
        "worker", help="arq workers: every queue in one process, or the queues named"
    )
    worker.add_argument(
        "--queue",
        action="append",
        choices=QUEUES,
        help="a queue to serve; give it several times for several (default: every queue)",
    )
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker.add_argument(
        "--metrics-port",
        type=int,
        help="serve this process's Prometheus metrics (jobs, retries, outages) on this port",
    )
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser(
        "schema", help="print the GraphQL schema (SDL): shutter schema > schema.graphql"
    ).set_defaults(func=cmd_schema)
    recommend = sub.add_parser(
        "recommend",
        help="train the ranking funnel on a user,item,timestamp[,weight] CSV and write "
        "user,item,rank for the listed users",
    )
    recommend.add_argument("--train", required=True, help="the interaction log (CSV)")
    recommend.add_argument("--users", required=True, help="users to recommend for, one per line")
    recommend.add_argument("--k", type=int, default=10, help="items per user (default 10)")
    recommend.add_argument("--out", required=True, help="where to write user,item,rank")
    recommend.add_argument("--seed", type=int, default=0)
    recommend.set_defaults(func=cmd_recommend)
    sub.add_parser("seed", help="create the demo world if missing").set_defaults(func=cmd_seed)
    moderator = sub.add_parser(
        "moderator", help="grant or take back the moderator role: shutter moderator add ana"
    )
    moderator.add_argument("action", choices=["add", "remove"])
    moderator.add_argument("username")
    moderator.set_defaults(func=cmd_moderator)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    # SIGTERM unwinds like Ctrl-C, so embedded servers started here are stopped in order
    # (uvicorn and arq install their own handlers while they run).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.func(settings, args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
