"""One reading of a Redis URL for every client of the process: redis-py's own parser.

`redis://[user[:password]@]host[:port][/db]`, `rediss://...` (TLS, `?ssl_cert_reqs=none`
to skip verification) and `unix:///path/to/socket?db=N`, with an ACL user and password, mean
the same to redis-py, arq, aiocache and the pipelined reader (config/redis_reads.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
