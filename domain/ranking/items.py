"""What the ranking knows of an item besides who engaged with it: a light module, so the
processes that only serve (API, most workers) can name items without loading the models'
libraries (LightGBM, implicit, SciPy), which load only where a model is trained or read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.jsonb import decoded


@dataclass(frozen=True)
class Item:
    """A post: its author, time and tags; items listed in a catalog are known even before
    anyone engaged with them."""

    id: str
    author: str | None = None
    created: float | None = None
    tags: tuple[str, ...] = ()
    kind: str | None = None  # PHOTO, CAROUSEL, REEL


def tags_of(raw: Any) -> tuple[str, ...]:
    """A posts.hashtags value as read with raw SQL (JSON text or a list)."""
    return tuple(str(t) for t in decoded(raw) or [])
