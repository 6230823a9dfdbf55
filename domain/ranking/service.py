"""The ranking job: scores the newest posts of a user's feed, for `feed(order: RANKED)`.

A post's score is the served model's value for the reader (the learned ranking,
domain/ranking/ranker.py: the same model family as explore and reels). For a reader the model
does not know, or before a trained model exists, it is what a simple, explainable ranker of
this kind weighs, multiplied together:

- engagement: 1 + ln(1 + likes + 2 comments + 3 saves), from the live counters;
- affinity: 1 + ln(1 + the reader's likes and comments on the author's posts in the last 30
  days) - people see more of whom they interact with;
- freshness: 1 / (age in hours + 2) ^ 1.5, so a post's chance fades over a day or two.

The scores of the newest RANK_CANDIDATES posts are written as a snapshot, `rank:{uid}`, a sorted
set of feed entries by score (domain/feed/store.py). Reading RANKED walks the snapshot by
(score, post id) and then continues chronologically below its oldest post, so the feed still
never ends, and a page's cursor stays valid while new posts arrive (they join at the next
ranking). A snapshot lives RANK_TTL_SECONDS; the first page of a RANKED read asks for a new one
once it is RANK_FRESH_SECONDS old, and is served from the old one (or newest first) meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections

from domain.feed import service as feed
from domain.feed.store import member
from domain.ids import min_id_at
from domain.posts.store import PostView
from domain.ranking.items import Item
from domain.ranking.served import ServedModel

RANK_CANDIDATES = 300
AFFINITY_DAYS = 30


def _score(likes: int, comments: int, saves: int, age_hours: float, affinity: int) -> float:
    engagement = 1 + math.log1p(likes + 2 * comments + 3 * saves)
    closeness = 1 + math.log1p(affinity)
    return engagement * closeness / (max(age_hours, 0.0) + 2) ** 1.5


def score(post: PostView, *, affinity: int, now: datetime) -> float:
    age_hours = (now - post.created_at).total_seconds() / 3_600
    return _score(post.like_count, post.comment_count, post.save_count, age_hours, affinity)


def engagement_score(row: Mapping[str, Any], now: datetime) -> float:
    """`score` of a posts row (like_count, comment_count, save_count, created_at), with no
    affinity: explore's cold start, for a viewer the model does not know."""
    age_hours = (now - row["created_at"]).total_seconds() / 3_600
    return _score(
        int(row["like_count"]), int(row["comment_count"]), int(row["save_count"]), age_hours, 0
    )


def as_item(post: PostView) -> Item:
    """A post as the ranking model sees it."""
    return Item(
        str(post.id),
        author=str(post.author_id),
        created=post.created_at.timestamp(),
        tags=tuple(post.hashtags),
        kind=post.kind,
    )


async def affinities(user_id: int, author_ids: list[int]) -> dict[int, int]:
    """How often the user liked or commented on each author's posts lately."""
    if not author_ids:
        return {}
    since = min_id_at(datetime.now(UTC) - timedelta(days=AFFINITY_DAYS))
    rows = await connections.get("default").execute_query_dict(
        "/* ranking.affinity */ SELECT p.author_id, count(*) AS n FROM ("
        "   SELECT post_id FROM likes WHERE user_id = $1 AND id >= $3"
        "   UNION ALL SELECT post_id FROM comments WHERE author_id = $1 AND id >= $3"
        " ) i JOIN posts p ON p.id = i.post_id WHERE p.author_id = ANY($2::bigint[])"
        " GROUP BY p.author_id",
        [user_id, author_ids, since],
    )
    return {int(r["author_id"]): int(r["n"]) for r in rows}


async def rank_feed(
    *, user_id: int, stores: feed.FeedStores, served: ServedModel | None = None
) -> int:
    """Score the newest posts of the user's feed and replace their snapshot (idempotent: a
    second run writes the same kind of snapshot). With a served model that knows the reader,
    its value is the score (domain/ranking/ranker.py); otherwise the heuristic above. Returns
    how many posts it ranked."""
    page = await feed.read_page(
        viewer_id=user_id, first=RANK_CANDIDATES, after=None, stores=stores, with_media=False
    )
    model = await served.current() if served is not None else None
    values = model.values(user_id, [as_item(p) for p in page.posts]) if model else None
    if values is not None:
        scores = {member(p.id, p.author_id): values[str(p.id)] for p in page.posts}
    else:
        close = await affinities(user_id, sorted({p.author_id for p in page.posts} - {user_id}))
        now = datetime.now(UTC)
        scores = {
            member(p.id, p.author_id): score(p, affinity=close.get(p.author_id, 0), now=now)
            for p in page.posts
        }
    oldest = min((p.id for p in page.posts), default=0)
    await stores.feeds.write_ranking(user_id, scores, oldest=oldest)
    return len(scores)
