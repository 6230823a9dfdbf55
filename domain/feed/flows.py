"""Reading the home feed: the one read that may ask for work (a new ranking snapshot)."""

from __future__ import annotations

from domain.feed import service
from domain.feed.service import FeedPage, FeedStores
from domain.feed.store import Position
from domain.ports import Ports


async def read_home(
    *,
    viewer_id: int,
    first: int,
    after: Position | None,
    ranked: bool,
    stores: FeedStores,
    ports: Ports,
) -> FeedPage:
    """A page of the viewer's feed (see `service.read_page`); a RANKED first page whose
    snapshot is missing or old claims a new ranking, made by a job."""
    page = await service.read_page(
        viewer_id=viewer_id, first=first, after=after, stores=stores, ranked=ranked
    )
    if page.wants_ranking:
        await ports.jobs.rank_feed(user_id=viewer_id)
    return page
