"""Sending and reading direct messages.

A message is committed before anyone is told about it (the caller publishes after this returns).
A retried send with the same clientId returns the first message, never a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode, not_found
from domain.graph.service import blocked_among
from domain.graph.visibility import not_blocked_sql, visible_authors_sql
from domain.ids import MAX_ID, id_created_at, next_id
from domain.pagination import Page

MAX_TEXT = 1_000
MAX_MEMBERS = 32


@dataclass(frozen=True)
class Sent:
    message_id: int
    thread_id: int
    member_ids: list[int]
    created: bool  # False when clientId matched an earlier send


@dataclass(frozen=True)
class ThreadState:
    """A thread as one member sees it."""

    thread_id: int
    kind: str
    status: str
    unread_count: int
    last_message_id: int | None
    last_read_message_id: int
    created_at: datetime

    @property
    def updated_at(self) -> datetime:
        """Its last activity: its newest message's time (ids carry it), or its creation."""
        return id_created_at(self.last_message_id) if self.last_message_id else self.created_at


def _refuse(message: str, field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field=field)


async def _existing(sender_id: int, client_id: str) -> Sent | None:
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        "/* messages.by_client_id */ SELECT id, thread_id FROM messages"
        " WHERE sender_id = $1 AND client_id = $2",
        [sender_id, client_id],
    )
    if not rows:
        return None
    members = await members_of(int(rows[0]["thread_id"]))
    return Sent(int(rows[0]["id"]), int(rows[0]["thread_id"]), members, created=False)


async def members_of(thread_id: int) -> list[int]:
    rows = await connections.get("default").execute_query_dict(
        "/* threads.members */ SELECT user_id FROM thread_members WHERE thread_id = $1",
        [thread_id],
    )
    return [int(r["user_id"]) for r in rows]


async def _blocks_with(sender_id: int, others: list[int]) -> tuple[set[int], set[int]]:
    """(those of `others` the sender blocked, those who blocked the sender)."""
    rows = await connections.get("default").execute_query_dict(
        "/* messages.blocks_with */ SELECT blocker_id, blocked_id FROM blocks"
        " WHERE (blocker_id = $1 AND blocked_id = ANY($2::bigint[]))"
        " OR (blocked_id = $1 AND blocker_id = ANY($2::bigint[]))",
        [sender_id, others],
    )
    blocked = {int(r["blocked_id"]) for r in rows if r["blocker_id"] == sender_id}
    return blocked, {int(r["blocker_id"]) for r in rows if r["blocked_id"] == sender_id}


async def _check_reachable(sender_id: int, others: list[int], *, field: str, what: str) -> None:
    """One-to-one messages and new threads cross no block: to someone who blocked the sender
    the answer is the one an unknown id gets (the block is not revealed); someone the sender
    blocked must be unblocked first."""
    blocked, blocking = await _blocks_with(sender_id, others)
    if blocking:
        raise not_found(what, field=field)
    if blocked:
        raise DomainError(
            ErrorCode.BLOCKED, "You blocked this account; unblock it to message.", field=field
        )


async def _check_groupable(user_ids: list[int]) -> None:
    """A new group never holds both sides of a block. The refusal names no one: it must not
    tell a third person who blocked whom."""
    rows = await connections.get("default").execute_query_dict(
        "/* messages.blocks_among */ SELECT 1 FROM blocks WHERE blocker_id = ANY($1::bigint[])"
        " AND blocked_id = ANY($1::bigint[]) LIMIT 1",
        [user_ids],
    )
    if rows:
        raise DomainError(
            ErrorCode.FORBIDDEN,
            "These accounts can't all be in one group; start it without some of them.",
            field="recipientIds",
        )


async def hidden_from(user_id: int, member_ids: list[int]) -> set[int]:
    """Members on either side of a block with `user_id`: in a shared group, each side's
    messages and typing are hidden from the other (Instagram's rule)."""
    return await blocked_among(viewer_id=user_id, other_ids=member_ids)


async def _new_thread(
    conn: BaseDBAsyncClient, *, sender_id: int, recipients: list[int], direct: bool, at: datetime
) -> int:
    """Create a thread, made `at` (its first message's time); recipients who do not follow
    the sender get it as a request."""
    thread_id = next_id()
    key = f"{min(sender_id, recipients[0])}:{max(sender_id, recipients[0])}" if direct else None
    inserted = await conn.execute_query_dict(
        "/* threads.insert */ INSERT INTO threads (id, kind, direct_key, created_by,"
        " created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (direct_key) DO NOTHING"
        " RETURNING id",
        [thread_id, "DIRECT" if direct else "GROUP", key, sender_id, at],
    )
    if not inserted:  # a concurrent first message made the 1:1 thread: use it
        rows = await conn.execute_query_dict(
            "/* threads.by_key */ SELECT id FROM threads WHERE direct_key = $1", [key]
        )
        return int(rows[0]["id"])
    followers = await conn.execute_query_dict(
        "/* threads.followers_of_sender */ SELECT follower_id FROM follows"
        " WHERE followee_id = $1 AND status = 'ACTIVE' AND follower_id = ANY($2::bigint[])",
        [sender_id, recipients],
    )
    accepted = {int(r["follower_id"]) for r in followers} | {sender_id}
    members = [sender_id, *recipients]
    await conn.execute_query(
        "/* threads.insert_members */ INSERT INTO thread_members (id, thread_id, user_id,"
        " status, last_activity_id, last_read_message_id, unread_count, created_at)"
        " SELECT id, $2, user_id, status, 0, 0, 0, now()"
        " FROM unnest($1::bigint[], $3::bigint[], $4::text[]) AS m(id, user_id, status)",
        [
            [next_id() for _ in members],
            thread_id,
            members,
            ["ACCEPTED" if m in accepted else "REQUEST" for m in members],
        ],
    )
    return thread_id


async def _direct_thread(sender_id: int, recipient_id: int) -> int | None:
    key = f"{min(sender_id, recipient_id)}:{max(sender_id, recipient_id)}"
    rows = await connections.get("default").execute_query_dict(
        "/* threads.by_key */ SELECT id FROM threads WHERE direct_key = $1", [key]
    )
    return int(rows[0]["id"]) if rows else None


async def send_message(
    *,
    sender_id: int,
    thread_id: int | None,
    recipient_ids: list[int] | None,
    text: str,
    media_id: int | None,
    post_id: int | None,
    client_id: str | None,
    story_id: int | None = None,
) -> Sent:
    text = text.strip()
    if (thread_id is None) == (recipient_ids is None):
        raise _refuse("Give either threadId or recipientIds.", "threadId")
    if len(text) > MAX_TEXT:
        raise _refuse(f"Messages are at most {MAX_TEXT} characters.", "text")
    if not text and media_id is None and post_id is None and story_id is None:
        raise _refuse("A message needs text, a photo or video, or a post.", "text")
    if client_id is not None and not 1 <= len(client_id) <= 64:
        raise _refuse("clientId is 1 to 64 characters.", "clientId")
    if client_id is not None and (earlier := await _existing(sender_id, client_id)):
        return earlier
    conn = connections.get("default")
    if media_id is not None:
        ready = await conn.execute_query_dict(
            "/* messages.media */ SELECT 1 FROM media WHERE id = $1 AND owner_id = $2"
            " AND status = 'READY'",
            [media_id, sender_id],
        )
        if not ready:
            raise _refuse("The media must be one of yours, processed (READY).", "mediaId")
    if post_id is not None:  # one the sender may see: any other is "not found", like a missing one
        visible = await conn.execute_query_dict(
            "/* messages.post */ SELECT 1 FROM posts p JOIN users a ON a.id = p.author_id"
            f" WHERE p.id = $1 AND {visible_authors_sql('p.author_id', 'a.is_private', '$2')}",
            [post_id, sender_id],
        )
        if not visible:
            raise not_found("post", field="postId")

    if thread_id is not None:
        rows = await conn.execute_query_dict(
            "/* threads.kind */ SELECT kind FROM threads WHERE id = $1", [thread_id]
        )
        members = await members_of(thread_id)
        if not rows or sender_id not in members:
            raise not_found("thread", field="threadId")
        if rows[0]["kind"] == "DIRECT":
            others = [m for m in members if m != sender_id]
            await _check_reachable(sender_id, others, field="threadId", what="thread")
        new_thread_for: list[int] | None = None
    else:
        assert recipient_ids is not None
        recipients = [r for r in dict.fromkeys(recipient_ids) if r != sender_id]
        if not recipients:
            raise _refuse("Name someone other than yourself.", "recipientIds")
        if len(recipients) + 1 > MAX_MEMBERS:
            raise _refuse(f"A group has at most {MAX_MEMBERS} members.", "recipientIds")
        found = await conn.execute_query_dict(
            "/* messages.recipients */ SELECT id FROM users WHERE id = ANY($1::bigint[])"
            " AND status = 'ACTIVE'",
            [recipients],
        )
        if len(found) != len(recipients):
            raise not_found("user", field="recipientIds")
        await _check_reachable(sender_id, recipients, field="recipientIds", what="user")
        existing = await _direct_thread(sender_id, recipients[0]) if len(recipients) == 1 else None
        if existing is None and len(recipients) > 1:
            await _check_groupable(recipients)
        thread_id = existing
        new_thread_for = None if existing else recipients

    message_id = next_id()
    # Members across a block from the sender (only in groups: elsewhere it was refused above)
    # neither see the message nor have it counted or moved up their list.
    hidden = (
        await hidden_from(sender_id, [m for m in await members_of(thread_id) if m != sender_id])
        if thread_id is not None
        else set()
    )
    async with in_transaction() as tx:
        if new_thread_for is not None:
            thread_id = await _new_thread(
                tx,
                sender_id=sender_id,
                recipients=new_thread_for,
                direct=len(new_thread_for) == 1,
                at=id_created_at(message_id),
            )
        inserted = await tx.execute_query_dict(
            "/* messages.insert */ INSERT INTO messages (id, thread_id, sender_id, text,"
            " media_id, post_id, client_id, story_id, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (sender_id, client_id) DO NOTHING RETURNING id",
            # a message's time is its id's, as its thread's last activity is
            [
                message_id,
                thread_id,
                sender_id,
                text,
                media_id,
                post_id,
                client_id,
                story_id,
                id_created_at(message_id),
            ],
        )
        if inserted:
            await tx.execute_query(
                "/* threads.touch */ UPDATE threads SET last_message_id = $2 WHERE id = $1",
                [thread_id, message_id],
            )
            await tx.execute_query(
                "/* threads.members_touch */ UPDATE thread_members SET"
                " last_activity_id = CASE WHEN user_id = ANY($4::bigint[]) THEN last_activity_id"
                " ELSE $2 END,"
                " unread_count = unread_count + CASE WHEN user_id = $3"
                " OR user_id = ANY($4::bigint[]) THEN 0 ELSE 1 END,"
                " last_read_message_id = CASE WHEN user_id = $3 THEN $2"
                " ELSE last_read_message_id END WHERE thread_id = $1",
                [thread_id, message_id, sender_id, list(hidden)],
            )
    assert thread_id is not None
    if not inserted:  # the same clientId raced in from another request
        assert client_id is not None
        earlier = await _existing(sender_id, client_id)
        assert earlier is not None
        return earlier
    told = [m for m in await members_of(thread_id) if m not in hidden]
    return Sent(message_id, thread_id, told, created=True)


async def state(*, user_id: int, thread_ids: list[int]) -> dict[int, ThreadState]:
    rows = await connections.get("default").execute_query_dict(
        "/* threads.state */ SELECT t.id, t.kind, m.status, m.unread_count, t.last_message_id,"
        " m.last_read_message_id, t.created_at"
        " FROM thread_members m JOIN threads t ON t.id = m.thread_id"
        " WHERE m.user_id = $1 AND m.thread_id = ANY($2::bigint[])",
        [user_id, thread_ids],
    )
    return {
        int(r["id"]): ThreadState(
            int(r["id"]),
            r["kind"],
            r["status"],
            int(r["unread_count"]),
            r["last_message_id"],
            int(r["last_read_message_id"]),
            r["created_at"],
        )
        for r in rows
    }


async def threads(*, user_id: int, requests: bool, first: int, after: int | None) -> Page:
    """The user's threads by newest activity (the position is the newest message id)."""
    rows = await connections.get("default").execute_query_dict(
        "/* threads.list */ SELECT last_activity_id AS pos, thread_id AS item"
        " FROM thread_members WHERE user_id = $1 AND status = $2 AND last_activity_id < $3"
        " AND last_activity_id > 0 ORDER BY last_activity_id DESC LIMIT $4",
        [user_id, "REQUEST" if requests else "ACCEPTED", after or MAX_ID, first + 1],
    )
    return Page.from_rows([(int(r["pos"]), int(r["item"])) for r in rows], first)


async def messages(
    *, viewer_id: int, thread_id: int, first: int, after: int | None, backward: bool = False
) -> Page:
    """The thread's messages as the viewer sees them, newest first: none from across a block,
    none from a suspended account, none held for review (but the viewer's own). `backward`
    reads the `first` messages just newer than `after` (a `last`/`before` page), or the oldest
    ones without it."""
    newer = backward
    rows = await connections.get("default").execute_query_dict(
        "/* messages.list */ SELECT id AS pos, id AS item FROM messages WHERE thread_id = $1"
        f" AND id {'>' if newer else '<'} $2 AND {not_blocked_sql('$4', 'sender_id')}"
        # a suspended sender's messages are gone from threads (a deleted one's stay, unsigned)
        " AND NOT EXISTS (SELECT 1 FROM users su WHERE su.id = sender_id"
        " AND su.status = 'SUSPENDED') AND (NOT hidden OR sender_id = $4)"
        f" ORDER BY id {'ASC' if newer else 'DESC'} LIMIT $3",
        [thread_id, after or (0 if newer else MAX_ID), first + 1, viewer_id],
    )
    found = [(int(r["pos"]), int(r["item"])) for r in rows]
    if backward:
        return Page.from_rows_backward(found, first, before=after)
    return Page.from_rows(found, first)


async def unread_total(*, user_id: int) -> int:
    rows = await connections.get("default").execute_query_dict(
        "/* threads.unread_total */ SELECT coalesce(sum(unread_count), 0) AS total"
        " FROM thread_members WHERE user_id = $1 AND status = 'ACCEPTED'",
        [user_id],
    )
    return int(rows[0]["total"])


async def mark_read(*, user_id: int, thread_id: int, message_id: int) -> None:
    async with in_transaction() as tx:
        found = await tx.execute_query_dict(
            "/* messages.in_thread */ SELECT 1 FROM messages m JOIN thread_members tm"
            " ON tm.thread_id = m.thread_id AND tm.user_id = $3"
            " WHERE m.id = $1 AND m.thread_id = $2",
            [message_id, thread_id, user_id],
        )
        if not found:
            raise not_found("message in this thread", field="messageId")
        await tx.execute_query(
            "/* threads.mark_read */ UPDATE thread_members SET"
            " last_read_message_id = greatest(last_read_message_id, $3),"
            " unread_count = (SELECT count(*) FROM messages WHERE thread_id = $1"
            "   AND id > greatest(last_read_message_id, $3) AND sender_id <> $2"
            f"  AND {not_blocked_sql('$2', 'sender_id')})"
            " WHERE thread_id = $1 AND user_id = $2",
            [thread_id, user_id, message_id],
        )


async def accept_request(*, user_id: int, thread_id: int) -> None:
    rows = await connections.get("default").execute_query_dict(
        "/* threads.accept */ UPDATE thread_members SET status = 'ACCEPTED'"
        " WHERE thread_id = $1 AND user_id = $2 RETURNING id",
        [thread_id, user_id],
    )
    if not rows:
        raise not_found("thread", field="threadId")


async def is_member(*, user_id: int, thread_id: int) -> bool:
    rows = await connections.get("default").execute_query_dict(
        "/* threads.is_member */ SELECT 1 FROM thread_members WHERE thread_id = $1"
        " AND user_id = $2",
        [thread_id, user_id],
    )
    return bool(rows)


@dataclass(frozen=True)
class MessageView:
    id: int
    thread_id: int
    sender_id: int
    text: str
    media_id: int | None
    post_id: int | None
    client_id: str | None
    created_at: datetime
    hidden: bool = False  # held for review: its sender's only
    story_id: int | None = None  # a reply to this story


async def messages_by_ids(ids: list[int]) -> dict[int, MessageView]:
    rows = await connections.get("default").execute_query_dict(
        "/* messages.by_ids */ SELECT id, thread_id, sender_id, text, media_id, post_id,"
        " client_id, created_at, hidden, story_id FROM messages WHERE id = ANY($1::bigint[])",
        [ids],
    )
    return {int(r["id"]): MessageView(**r) for r in rows}


async def members_by_threads(thread_ids: list[int]) -> dict[int, list[int]]:
    rows = await connections.get("default").execute_query_dict(
        "/* threads.members_many */ SELECT thread_id, user_id FROM thread_members"
        " WHERE thread_id = ANY($1::bigint[]) ORDER BY id",
        [thread_ids],
    )
    members: dict[int, list[int]] = {}
    for r in rows:
        members.setdefault(int(r["thread_id"]), []).append(int(r["user_id"]))
    return members
