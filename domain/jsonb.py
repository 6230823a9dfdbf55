"""JSON columns read with raw SQL: asyncpg hands jsonb back as text, Tortoise models decode it."""

from __future__ import annotations

import json
from typing import Any


def decoded(value: Any) -> Any:
    """The column's value, decoded when it arrives as JSON text."""
    return json.loads(value) if isinstance(value, str) else value
