"""Queue names and typed wrappers around `enqueue_job`, so a job's name and arguments are
checked in one place."""

from __future__ import annotations

DEFAULT_QUEUE = "default"
QUEUES = (DEFAULT_QUEUE,)
