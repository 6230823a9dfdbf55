"""Recording notifications from domain events (in a worker), and reading them.

Likes on one post are grouped into one entry while it is unread and under GROUP_WINDOW old:
"ana, bo and 3 others liked your post". Recording is idempotent: a job delivered twice finds
the actor already there, or the event's row already made.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from domain.graph.service import block_between
from domain.graph.visibility import visible_authors_sql
from domain.ids import MAX_ID, next_id
from domain.jsonb import decoded
from domain.pagination import Page
from domain.realtime.events import Events

GROUP_WINDOW = timedelta(hours=24)
MAX_ACTORS = 20
UNREAD_CAP = 100  # clients show "99+": never count further


@dataclass(frozen=True)
class Event:
    kind: str  # a NotificationKind
    actor_id: int
    recipient_id: int
    key: str  # unique per event, e.g. "comment:<comment id>"
    post_id: int | None = None
    comment_id: int | None = None
    story_id: int | None = None  # a mention in a story
    # When it happened, as an id made then: notifications sort by it, not by when a worker
    # got to the event (a worker runs several at once, in no set order).
    at: int = field(default_factory=next_id)

    def to_job(self) -> dict[str, Any]:
        return asdict(self)


async def record(event: Event, *, events: Events) -> int | None:
    """Make (or grow) the notification for `event`; None when there is nothing to tell."""
    if event.actor_id == event.recipient_id:
        return None  # nobody is told about their own actions
    if any(await block_between(event.recipient_id, event.actor_id)):
        return None
    if event.post_id is not None and not await _may_see_post(event.recipient_id, event.post_id):
        return None  # mentioned in a private account's post they do not follow, say
    if event.kind == "LIKE":
        notification_id = await _record_like(event)
    else:
        rows = await connections.get("default").execute_query_dict(
            "/* notifications.insert */ INSERT INTO notifications (id, user_id, kind, post_id,"
            " comment_id, story_id, actor_ids, actor_count, sort_id, event_key, read, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $9, $6::jsonb, 1, $7, $8, false, now())"
            " ON CONFLICT (event_key) DO NOTHING RETURNING id",
            [
                next_id(),
                event.recipient_id,
                event.kind,
                event.post_id,
                event.comment_id,
                json.dumps([event.actor_id]),
                event.at,
                event.key,
                event.story_id,
            ],
        )
        notification_id = int(rows[0]["id"]) if rows else None
    if notification_id is not None:
        await events.notification(recipient_id=event.recipient_id, notification_id=notification_id)
    return notification_id


async def _may_see_post(user_id: int, post_id: int) -> bool:
    rows = await connections.get("default").execute_query_dict(
        "/* notifications.may_see_post */ SELECT 1 FROM posts p JOIN users a ON a.id = p.author_id"
        f" WHERE p.id = $1 AND {visible_authors_sql('p.author_id', 'a.is_private', '$2')}",
        [post_id, user_id],
    )
    return bool(rows)


async def _record_like(event: Event) -> int | None:
    async with in_transaction() as tx:
        # One writer per (recipient, post) at a time, so concurrent likes join one entry.
        await tx.execute_query(
            "/* notifications.lock */ SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [f"like:{event.recipient_id}:{event.post_id}"],
        )
        rows = await tx.execute_query_dict(
            "/* notifications.open_like_group */ SELECT id, actor_ids FROM notifications"
            " WHERE user_id = $1 AND kind = 'LIKE' AND post_id = $2 AND NOT read"
            " AND created_at > now() - $3::interval ORDER BY sort_id DESC LIMIT 1",
            [event.recipient_id, event.post_id, GROUP_WINDOW],
        )
        if rows:
            actors = decoded(rows[0]["actor_ids"])
            if event.actor_id in actors:
                return None  # this like is counted already (a job that ran twice)
            await tx.execute_query(
                "/* notifications.grow_like_group */ UPDATE notifications SET actor_ids = $2,"
                " actor_count = actor_count + 1, sort_id = GREATEST(sort_id, $3) WHERE id = $1",
                [rows[0]["id"], json.dumps([event.actor_id, *actors][:MAX_ACTORS]), event.at],
            )
            return int(rows[0]["id"])
        new_id = next_id()
        await tx.execute_query(
            "/* notifications.insert */ INSERT INTO notifications (id, user_id, kind, post_id,"
            " comment_id, actor_ids, actor_count, sort_id, event_key, read, created_at)"
            " VALUES ($1, $2, 'LIKE', $3, NULL, $4::jsonb, 1, $5, $6, false, now())",
            [
                new_id,
                event.recipient_id,
                event.post_id,
                json.dumps([event.actor_id]),
                event.at,
                f"like-group:{new_id}",
            ],
        )
        return new_id


@dataclass(frozen=True)
class NotificationView:
    id: int
    user_id: int
    kind: str
    post_id: int | None
    comment_id: int | None
    story_id: int | None
    actor_ids: list[int]
    actor_count: int
    sort_id: int
    read: bool
    created_at: datetime


async def by_ids(ids: list[int]) -> dict[int, NotificationView]:
    rows = await connections.get("default").execute_query_dict(
        "/* notifications.by_ids */ SELECT id, user_id, kind, post_id, comment_id, story_id,"
        " actor_ids,"
        " actor_count, sort_id, read, created_at FROM notifications"
        " WHERE id = ANY($1::bigint[])",
        [ids],
    )
    found = {}
    for row in rows:
        row["actor_ids"] = decoded(row["actor_ids"])
        found[int(row["id"])] = NotificationView(**row)
    return found


async def page(*, user_id: int, first: int, after: int | None) -> Page:
    rows = await connections.get("default").execute_query_dict(
        "/* notifications.page */ SELECT sort_id AS pos, id AS item FROM notifications"
        " WHERE user_id = $1 AND sort_id < $2 ORDER BY sort_id DESC LIMIT $3",
        [user_id, after or MAX_ID, first + 1],
    )
    return Page.from_rows([(int(r["pos"]), int(r["item"])) for r in rows], first)


async def unread_count(*, user_id: int) -> int:
    rows = await connections.get("default").execute_query_dict(
        "/* notifications.unread */ SELECT count(*) AS n FROM (SELECT 1 FROM notifications"
        " WHERE user_id = $1 AND NOT read LIMIT $2) unread",
        [user_id, UNREAD_CAP],
    )
    return int(rows[0]["n"])


async def mark_read(*, user_id: int, up_to_id: int) -> bool:
    """Everything up to (and including) this notification, in list order, is read."""
    rows = await connections.get("default").execute_query_dict(
        "/* notifications.mark_read */ UPDATE notifications SET read = true"
        " WHERE user_id = $1 AND NOT read AND sort_id <= (SELECT sort_id FROM notifications"
        " WHERE id = $2 AND user_id = $1) RETURNING id",
        [user_id, up_to_id],
    )
    return bool(rows)
