"""The ports a flow is given: the jobs it enqueues and the realtime events it publishes.

Flows (`domain/<area>/flows.py`) commit first, then call these. The composition root
(`config/runtime.py`) plugs in arq (`workers/queues.ArqJobs`) and Redis pub/sub
(`domain/realtime/events.RedisEvents`); the domain never imports `workers/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from domain.notifications.service import Event
    from domain.realtime.events import Events


class Jobs(Protocol):
    """Work for the workers, each enqueue idempotent where the job is (see workers/queues)."""

    async def process_media(self, *, media_id: int, attempt: int) -> None: ...

    async def delete_media(self, *, media_ids: list[int]) -> None: ...

    async def fanout_post(self, *, post_id: int, attempt: int) -> None: ...

    async def refresh_feeds(self, *, user_ids: list[int]) -> None: ...

    async def rank_feed(self, *, user_id: int) -> None: ...

    async def rank_explore(self, *, user_id: int) -> None: ...

    async def notify(self, event: Event) -> None: ...

    async def purge_account(self, *, user_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Ports:
    jobs: Jobs
    events: Events
