"""Reports, holds and moderators' decisions.

A report opens (or adds to) the target's case; once REPORTS_TO_HIDE distinct people reported
a post or a comment, it is hidden from everyone but its author until a moderator decides.
The spam signals (domain/moderation/spam.py) hold content the same way. A decision —
DISMISS (shown again), REMOVE (deleted) or SUSPEND_AUTHOR (the account suspended: signed out
and hidden everywhere) — closes the case, and every decision is recorded: who, when, why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode, not_found
from domain.ids import MAX_ID, next_id
from domain.jsonb import decoded
from domain.moderation.models import ReportReason, Resolution, TargetKind
from domain.pagination import Page
from domain.posts.store import PostStore
from domain.users.store import UserStore

MAX_NOTE = 500
# The record's moderator id for what the spam signals did by themselves.
SPAM_SIGNALS = 0
_HIDEABLE = {
    TargetKind.POST: "posts",
    TargetKind.COMMENT: "comments",
    TargetKind.MESSAGE: "messages",
}


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    id: int
    author_id: int
    excerpt: str  # its text now: what the reviewer reads


@dataclass(frozen=True)
class CaseView:
    id: int
    target_kind: str
    target_id: int
    author_id: int
    excerpt: str
    report_count: int
    hidden: bool
    held_for_spam: bool
    spam_score: float | None
    reasons: list[str]
    open: bool
    resolution: str | None
    created_at: datetime


@dataclass(frozen=True)
class ReportView:
    id: int
    reporter_id: int
    reason: str
    note: str
    created_at: datetime


async def is_moderator(user_id: int | None) -> bool:
    if user_id is None:
        return False
    rows = await connections.get("default").execute_query_dict(
        "/* moderation.is_moderator */ SELECT 1 FROM users WHERE id = $1 AND is_moderator"
        " AND status = 'ACTIVE'",
        [user_id],
    )
    return bool(rows)


async def set_moderator(*, username: str, moderator: bool) -> bool:
    """Grant (or take back) the role; False when there is no such active account."""
    rows = await connections.get("default").execute_query_dict(
        "/* moderation.set_moderator */ UPDATE users SET is_moderator = $2"
        " WHERE username = $1 AND status = 'ACTIVE' RETURNING id",
        [username.strip().lstrip("@").lower(), moderator],
    )
    return bool(rows)


async def report(
    *,
    reporter_id: int,
    target: Target,
    reason: ReportReason,
    note: str,
    reports_to_hide: int,
    posts: PostStore,
) -> bool:
    """File the report (again: nothing changes); True when it was new. The caller has checked
    that the reporter may see the target."""
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"A note is at most {MAX_NOTE} characters.", field="note"
        )
    if target.author_id == reporter_id:
        raise DomainError(ErrorCode.INVALID_INPUT, "You cannot report yourself.", field="target")
    async with in_transaction() as conn:
        inserted = await conn.execute_query_dict(
            "/* moderation.report */ INSERT INTO reports (id, reporter_id, target_kind,"
            " target_id, reason, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, now())"
            " ON CONFLICT (reporter_id, target_kind, target_id) DO NOTHING RETURNING id",
            [next_id(), reporter_id, target.kind.value, target.id, reason.value, note],
        )
        if not inserted:
            return False
        rows = await conn.execute_query_dict(
            "/* moderation.open_case */ INSERT INTO moderation_cases (id, target_kind, target_id,"
            " author_id, excerpt, report_count, hidden, held_for_spam, reasons, open,"
            " activity_id, created_at) VALUES ($1, $2, $3, $4, $5, 1, false, false, '[]', true,"
            " $1, now()) ON CONFLICT (target_kind, target_id) DO UPDATE SET"
            " report_count = moderation_cases.report_count + 1, open = true, resolution = NULL,"
            " activity_id = EXCLUDED.activity_id RETURNING id, report_count, hidden",
            [next_id(), target.kind.value, target.id, target.author_id, target.excerpt[:2000]],
        )
        case = rows[0]
        hide = (
            target.kind in _HIDEABLE
            and not case["hidden"]
            and int(case["report_count"]) >= reports_to_hide
        )
        if hide:
            await _set_hidden(conn, target.kind, target.id, hidden=True)
            await conn.execute_query(
                "/* moderation.hide_case */ UPDATE moderation_cases SET hidden = true,"
                " reasons = reasons || $2::jsonb WHERE id = $1",
                [case["id"], _json_list([f"reported by {reports_to_hide} people"])],
            )
    if hide:
        await _forget(posts, target)
    return True


async def hold(
    *, target: Target, reasons: list[str], spam_score: float | None, posts: PostStore
) -> None:
    """Hide new content the spam signals flagged, and queue it for review, saying why."""
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(
            "/* moderation.hold */ INSERT INTO moderation_cases (id, target_kind, target_id,"
            " author_id, excerpt, report_count, hidden, held_for_spam, spam_score, reasons, open,"
            " activity_id, created_at) VALUES ($1, $2, $3, $4, $5, 0, true, true, $6, $7::jsonb,"
            " true, $1, now()) ON CONFLICT (target_kind, target_id) DO NOTHING RETURNING id",
            [
                next_id(),
                target.kind.value,
                target.id,
                target.author_id,
                target.excerpt[:2000],
                spam_score,
                _json_list(reasons),
            ],
        )
        if not rows:
            return
        if target.kind in _HIDEABLE:
            await _set_hidden(conn, target.kind, target.id, hidden=True)
        await _record(conn, rows[0]["id"], SPAM_SIGNALS, "HOLD", "; ".join(reasons))
    await _forget(posts, target)


def _json_list(items: list[str]) -> str:
    return json.dumps(items)


async def _set_hidden(
    conn: BaseDBAsyncClient, kind: TargetKind, target_id: int, *, hidden: bool
) -> None:
    table = _HIDEABLE.get(kind)
    if table is not None:
        await conn.execute_query(
            f"/* moderation.set_hidden */ UPDATE {table} SET hidden = $2 WHERE id = $1",
            [target_id, hidden],
        )


async def _record(
    conn: BaseDBAsyncClient, case_id: int, moderator_id: int, action: str, note: str
) -> None:
    await conn.execute_query(
        "/* moderation.record */ INSERT INTO moderation_actions (id, case_id, moderator_id,"
        " action, note, created_at) VALUES ($1, $2, $3, $4, $5, now())",
        [next_id(), case_id, moderator_id, action, note[:MAX_NOTE]],
    )


async def _forget(posts: PostStore, target: Target) -> None:
    if target.kind is TargetKind.POST:
        await posts.posts.invalidate(target.id)
    elif target.kind is TargetKind.COMMENT:
        await posts.comments.invalidate(target.id)


_CASE_COLUMNS = (
    "id, target_kind, target_id, author_id, excerpt, report_count, hidden, held_for_spam,"
    " spam_score, reasons, open, resolution, created_at"
)


def _case(row: dict[str, object]) -> CaseView:
    values = dict(row)
    values["reasons"] = [str(r) for r in decoded(values["reasons"])]
    return CaseView(**values)  # type: ignore[arg-type]


async def queue(*, first: int, after: int | None) -> Page:
    """Open cases, the most recently active first."""
    rows = await connections.get("default").execute_query_dict(
        "/* moderation.queue */ SELECT activity_id AS pos, id AS item FROM moderation_cases"
        " WHERE open AND activity_id < $1 ORDER BY activity_id DESC LIMIT $2",
        [after or MAX_ID, first + 1],
    )
    return Page.from_rows([(int(r["pos"]), int(r["item"])) for r in rows], first)


async def cases_by_ids(ids: list[int]) -> dict[int, CaseView]:
    rows = await connections.get("default").execute_query_dict(
        f"/* moderation.cases */ SELECT {_CASE_COLUMNS} FROM moderation_cases"
        " WHERE id = ANY($1::bigint[])",
        [ids],
    )
    return {int(r["id"]): _case(r) for r in rows}


async def case_for(kind: TargetKind, target_id: int) -> CaseView | None:
    rows = await connections.get("default").execute_query_dict(
        f"/* moderation.case_for */ SELECT {_CASE_COLUMNS} FROM moderation_cases"
        " WHERE target_kind = $1 AND target_id = $2",
        [kind.value, target_id],
    )
    return _case(rows[0]) if rows else None


async def reports_of(case: CaseView, *, first: int, after: int | None) -> Page:
    rows = await connections.get("default").execute_query_dict(
        "/* moderation.reports */ SELECT id AS pos, id AS item FROM reports"
        " WHERE target_kind = $1 AND target_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
        [case.target_kind, case.target_id, after or MAX_ID, first + 1],
    )
    return Page.from_rows([(int(r["pos"]), int(r["item"])) for r in rows], first)


async def reports_by_ids(ids: list[int]) -> dict[int, ReportView]:
    rows = await connections.get("default").execute_query_dict(
        "/* moderation.reports_by_ids */ SELECT id, reporter_id, reason, note, created_at"
        " FROM reports WHERE id = ANY($1::bigint[])",
        [ids],
    )
    return {int(r["id"]): ReportView(**r) for r in rows}


async def close(*, case: CaseView, moderator_id: int, resolution: Resolution, note: str) -> None:
    """Close the case with the decision (shown again, when dismissed), and record it."""
    if len(note) > MAX_NOTE:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"A note is at most {MAX_NOTE} characters.", field="note"
        )
    async with in_transaction() as conn:
        await conn.execute_query(
            "/* moderation.close */ UPDATE moderation_cases SET open = false, resolution = $2,"
            " hidden = hidden AND NOT $3 WHERE id = $1",
            [case.id, resolution.value, resolution is Resolution.DISMISS],
        )
        if resolution is Resolution.DISMISS:
            await _set_hidden(conn, TargetKind(case.target_kind), case.target_id, hidden=False)
        await _record(conn, case.id, moderator_id, resolution.value, note)


async def open_case(kind: TargetKind, target_id: int) -> CaseView:
    case = await case_for(kind, target_id)
    if case is None:
        raise not_found("report of this", field="targetId")
    return case


async def forget_target(posts: PostStore, users: UserStore, case: CaseView) -> None:
    await _forget(posts, Target(TargetKind(case.target_kind), case.target_id, case.author_id, ""))
    await users.invalidate(case.author_id)
