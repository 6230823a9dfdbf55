"""Feed flows: a committed post's fan-out (and the sweep that finishes those that stopped), and
reading the home feed, the one read that may ask for work (a new ranking snapshot)."""

from __future__ import annotations

from domain.feed import service
from domain.feed.service import FeedPage, FeedStores
from domain.feed.store import Position
from domain.ports import Ports
from domain.posts.flows import tell_mentions


async def fan_out(*, post_id: int, stores: FeedStores, ports: Ports) -> int:
    """Everything a committed post is owed after its commit, from its outbox row: its author's
    own feed, its followers' feeds (resumed where an earlier try stopped) and its mentions
    told. Safe to run any number of times, in parallel too; returns the followers' feeds it
    went into."""
    target = await service.fanout_target(post_id)
    if target is None:
        return 0
    await stores.feeds.insert([target.author_id], post_id, target.author_id)
    post = (await stores.posts.get_posts([post_id])).get(post_id)
    if post is not None:
        await tell_mentions(
            ports.jobs, post_id=post_id, author_id=post.author_id, user_ids=post.mention_ids
        )
    return await service.fanout_post(target=target, stores=stores)


async def sweep_fanouts(*, ports: Ports) -> int:
    """Enqueue again the fan-outs that stopped showing progress; returns how many."""
    stalled = await service.stalled_fanouts()
    for post_id, attempt in stalled:
        await ports.jobs.fanout_post(post_id=post_id, attempt=attempt)
    return len(stalled)


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
