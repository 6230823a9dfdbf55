"""Load shedding and admission: past MAX_IN_FLIGHT requests at once, an API process answers a
GraphQL request at once with 503 (`UNAVAILABLE`, retryable, `Retry-After: 1`) instead of
queueing it behind the others, so the requests it takes keep their latency and a client under
overload hears "retry in a second" rather than waiting out a timeout. Health, metrics and media
are never shed.

Of the requests it takes, at most MAX_RUNNING run at once; the others wait their turn, first
come first served, with their bodies read. Run all at once, each request's every await puts it
behind all the others' work, so a write (a dozen round trips) took a dozen turns of a queue of
32 requests; in turns, a request waits once and then runs among a few. Uploads (multipart) are
not held back: they spend their time receiving bytes. A request not given its turn within
`max_wait` (the Redis timeout: the turns are then held by requests waiting out an outage) is
answered as a shed one."""

from __future__ import annotations

import asyncio
import json

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_running: int = 0,
        max_wait: float = 2.0,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_wait = max_wait
        self.path = path
        self.in_flight = 0
        self.running = asyncio.Semaphore(max_running) if max_running else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await _shed(send)
            return
        self.in_flight += 1
        try:
            if self.running is None or _is_multipart(scope):
                await self.app(scope, receive, send)
                return
            messages = await _whole_body(receive)
            try:
                async with asyncio.timeout(self.max_wait):
                    await self.running.acquire()
            except TimeoutError:
                await _shed(send)
                return
            try:
                await self.app(scope, _replay(messages, receive), send)
            finally:
                self.running.release()
        finally:
            self.in_flight -= 1


async def _shed(send: Send) -> None:
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


def _is_multipart(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.startswith(b"multipart/")
    return False


async def _whole_body(receive: Receive) -> list[Message]:
    """The request's body messages, read to the end (a client sending slowly waits here,
    holding no turn)."""
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # after the body: a disconnect, when it comes

    return replayed
