"""One reading of a Redis URL for every client of the process: redis-py's own parser.

`redis://[user[:password]@]host[:port][/db]`, `rediss://...` (TLS, `?ssl_cert_reqs=none`
to skip verification) and `unix:///path/to/socket?db=N`, with an ACL user and password, mean
the same to redis-py, arq, aiocache and the pipelined reader (config/redis_reads.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url


@dataclass(frozen=True, slots=True)
class RedisAddress:
    host: str
    port: int
    unix_path: str | None
    db: int
    username: str | None
    password: str | None
    tls: bool
    verify_tls: bool

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        options: dict[str, Any] = dict(parse_url(url))
        connection_class = options.get("connection_class")
        unix = connection_class is UnixDomainSocketConnection
        return cls(
            host=options.get("host") or "localhost",
            port=int(options.get("port") or 6379),
            unix_path=options.get("path") if unix else None,
            db=int(options.get("db") or 0),
            username=options.get("username") or None,
            password=options.get("password"),
            tls=connection_class is SSLConnection,
            verify_tls=options.get("ssl_cert_reqs", "required") != "none",
        )


SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


def is_sentinel(url: str) -> bool:
    return url.split("://", 1)[0] in SENTINEL_SCHEMES


@dataclass(frozen=True, slots=True)
class SentinelAddress:
    """`redis+sentinel://[user:password@]host:26379[,host:26379...]/<master name>[/db]`: the
    Sentinels that watch a Redis and its replicas, and the name they know it by (the password
    is the Redis's, not the Sentinels'); `rediss+sentinel://` for TLS to the Redis."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> SentinelAddress:
        parts = urlsplit(url)
        if parts.scheme not in SENTINEL_SCHEMES:
            raise ValueError(f"not a Sentinel URL ({'/'.join(SENTINEL_SCHEMES)}://)")
        credentials, _, hosts = parts.netloc.rpartition("@")
        user, _, password = credentials.partition(":")
        sentinels = []
        for host in hosts.split(","):
            name, _, port = host.strip().rpartition(":")
            if not name or not port.isdigit():
                raise ValueError(f"{host!r} is not host:port (comma-separated Sentinels)")
            sentinels.append((name, int(port)))
        path = [segment for segment in parts.path.split("/") if segment]
        if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
            raise ValueError("give the master's name, then the database: /mymaster/0")
        return cls(
            sentinels=tuple(sentinels),
            master=unquote(path[0]),
            db=int(path[1]) if len(path) == 2 else 0,
            username=unquote(user) or None,
            password=unquote(password) if credentials else None,
            tls=parts.scheme == "rediss+sentinel",
        )
