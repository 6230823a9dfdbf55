"""Automatic spam signals, as Mastodon and Pixelfed use them: a new account (younger than a
week, with few followers) that posts links, mentions or messages many people who do not follow
it, or repeats the same comment across posts, has that content held (seen by its author only)
and queued for moderators with the reasons that fired and the classifier's score. For a new
account the classifier alone holds content it scores past HOLD_AT. Older accounts are not
screened: their reports go through `reportContent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections

from domain.moderation import classifier
from domain.moderation import service as moderation
from domain.moderation.models import TargetKind
from domain.posts.store import PostStore

NEW_ACCOUNT_AGE = timedelta(days=7)
FEW_FOLLOWERS = 10
MASS_MENTIONS = 5  # accounts mentioned that do not follow the author
MASS_MESSAGES = 10  # people who do not follow the sender, messaged in the last hour
REPEATS = 3  # the same comment on this many posts in a day
LINK = re.compile(r"(https?://|www\.)\S+|\b[a-z0-9-]+\.(com|net|org|io|ru|xyz|top|biz)\b", re.I)


@dataclass(frozen=True)
class Author:
    id: int
    created_at: datetime
    follower_count: int

    @property
    def is_new(self) -> bool:
        young = datetime.now(UTC) - self.created_at < NEW_ACCOUNT_AGE
        return young and self.follower_count < FEW_FOLLOWERS


async def _author(user_id: int) -> Author | None:
    rows = await connections.get("default").execute_query_dict(
        "/* spam.author */ SELECT id, created_at, follower_count FROM users WHERE id = $1",
        [user_id],
    )
    return Author(**rows[0]) if rows else None


async def _non_followers(author_id: int, user_ids: list[int]) -> int:
    if not user_ids:
        return 0
    rows = await connections.get("default").execute_query_dict(
        "/* spam.non_followers */ SELECT count(*) AS n FROM unnest($2::bigint[]) AS u(id)"
        " WHERE NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = u.id"
        " AND f.followee_id = $1 AND f.status = 'ACTIVE')",
        [author_id, user_ids],
    )
    return int(rows[0]["n"])


async def _screen(
    author: Author,
    kind: TargetKind,
    target_id: int,
    text: str,
    reasons: list[str],
    posts: PostStore,
) -> bool:
    if LINK.search(text):
        reasons.append("a new account posting a link")
    score = await classifier.SCORER.score(text)
    if score is not None and score >= classifier.HOLD_AT:
        reasons.append(f"the spam classifier scored it {score:.2f}")
    if not reasons:
        return False
    await moderation.hold(
        target=moderation.Target(kind, target_id, author.id, text),
        reasons=reasons,
        spam_score=score,
        posts=posts,
    )
    return True


async def screen_post(
    *, author_id: int, post_id: int, caption: str, mention_ids: list[int], posts: PostStore
) -> bool:
    """True when the post was held."""
    author = await _author(author_id)
    if author is None or not author.is_new:
        return False
    reasons = []
    if await _non_followers(author_id, mention_ids) >= MASS_MENTIONS:
        reasons.append("a new account mentioning many people who do not follow it")
    return await _screen(author, TargetKind.POST, post_id, caption, reasons, posts)


async def screen_comment(*, author_id: int, comment_id: int, text: str, posts: PostStore) -> bool:
    author = await _author(author_id)
    if author is None or not author.is_new:
        return False
    rows = await connections.get("default").execute_query_dict(
        "/* spam.repeats */ SELECT count(DISTINCT post_id) AS n FROM comments"
        " WHERE author_id = $1 AND lower(text) = lower($2)"
        " AND created_at > now() - interval '1 day'",
        [author_id, text.strip()],
    )
    reasons = []
    if int(rows[0]["n"]) >= REPEATS:
        reasons.append("a new account repeating the same comment across posts")
    return await _screen(author, TargetKind.COMMENT, comment_id, text, reasons, posts)


async def screen_message(*, sender_id: int, message_id: int, text: str, posts: PostStore) -> bool:
    author = await _author(sender_id)
    if author is None or not author.is_new:
        return False
    rows = await connections.get("default").execute_query_dict(
        "/* spam.messaged */ SELECT count(DISTINCT tm.user_id) AS n FROM messages m"
        " JOIN thread_members tm ON tm.thread_id = m.thread_id AND tm.user_id <> $1"
        " WHERE m.sender_id = $1 AND m.created_at > now() - interval '1 hour'"
        " AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = tm.user_id"
        " AND f.followee_id = $1 AND f.status = 'ACTIVE')",
        [sender_id],
    )
    reasons = []
    if int(rows[0]["n"]) >= MASS_MESSAGES:
        reasons.append("a new account messaging many people who do not follow it")
    return await _screen(author, TargetKind.MESSAGE, message_id, text, reasons, posts)
