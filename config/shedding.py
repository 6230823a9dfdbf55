"""Load shedding: past MAX_IN_FLIGHT requests at once, an API process answers a GraphQL request
at once with 503 (`UNAVAILABLE`, retryable, `Retry-After: 1`) instead of queueing it behind the
others, so the requests it takes keep their latency and a client under overload hears "retry
in a second" rather than waiting out a timeout. Health, metrics and media are never shed."""

from __future__ import annotations

import json

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from config.outages import RETRY_AFTER_SECONDS, UNAVAILABLE_EXTENSIONS

SHED = Counter("shutter_http_shed_total", "Requests answered 503 because the process was full")

_BODY = json.dumps(
    {
        "errors": [
            {
                "message": "The server is busy; try again in a moment.",
                "extensions": UNAVAILABLE_EXTENSIONS,
            }
        ]
    }
).encode()


class LoadShedding:
    def __init__(self, app: ASGIApp, *, max_in_flight: int, path: str = "/graphql") -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.path = path
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            SHED.inc()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_BODY)).encode()),
                        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BODY})
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
