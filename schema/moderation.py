"""reportContent, and the moderators' moderationQueue and resolveReport."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.errors import ErrorCode
from domain.moderation import service as moderation
from domain.moderation.models import ReportReason, Resolution, TargetKind
from resolvers import moderation as resolve
from resolvers.context import Info
from resolvers.global_ids import page_arguments, to_global_id
from schema.errors import UserError, mutation, respond
from schema.pagination import Connection
from schema.user import User

strawberry.enum(ReportReason, name="ReportReason")
strawberry.enum(
    Resolution,
    name="ModerationDecision",
    description=(
        "DISMISS: nothing wrong, shown again. REMOVE: the content is deleted (an account:"
        " suspended). SUSPEND_AUTHOR: its author's account is suspended: signed out, and it and"
        " all it made hidden everywhere."
    ),
)
strawberry.enum(TargetKind, name="ReportTarget")

_TYPE_NAMES = {"POST": "Post", "COMMENT": "Comment", "USER": "User", "MESSAGE": "Message"}


@strawberry.type(description="One person's report (moderators only).")
class ContentReport:
    raw: strawberry.Private[moderation.ReportView]
    reason: ReportReason
    note: str
    created_at: datetime

    @strawberry.field
    async def reporter(self, info: Info) -> User | None:
        return User.maybe(await info.context.loaders.user.load(self.raw.reporter_id))


@strawberry.type(
    description="Something reported, or held by the spam signals, waiting for a moderator."
)
class ReportedTarget:
    raw: strawberry.Private[moderation.CaseView]
    id: strawberry.ID
    kind: TargetKind
    target_id: strawberry.ID = strawberry.field(
        description="The global id of the post, comment, user or message; resolveReport takes it."
    )
    excerpt: str = strawberry.field(description="Its text when it was reported or held.")
    report_count: int
    hidden: bool = strawberry.field(description="Hidden from everyone but its author meanwhile.")
    held_for_spam: bool
    spam_score: float | None = strawberry.field(
        description="The spam classifier's probability, when a model was trained."
    )
    reasons: list[str] = strawberry.field(description="Why it is here.")
    resolution: Resolution | None
    created_at: datetime

    @classmethod
    def from_view(cls, view: moderation.CaseView) -> ReportedTarget:
        return cls(
            raw=view,
            id=strawberry.ID(to_global_id("ReportedTarget", view.id)),
            kind=TargetKind(view.target_kind),
            target_id=strawberry.ID(to_global_id(_TYPE_NAMES[view.target_kind], view.target_id)),
            excerpt=view.excerpt,
            report_count=view.report_count,
            hidden=view.hidden,
            held_for_spam=view.held_for_spam,
            spam_score=view.spam_score,
            reasons=view.reasons,
            resolution=Resolution(view.resolution) if view.resolution else None,
            created_at=view.created_at,
        )

    @strawberry.field(description="Its author (null when the account is gone).")
    async def author(self, info: Info) -> User | None:
        return User.maybe(await info.context.loaders.user.load(self.raw.author_id))

    @strawberry.field(description="Newest first.")
    async def reports(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ContentReport]:
        limit, position = page_arguments(first, after)
        page = await moderation.reports_of(self.raw, first=limit, after=position)
        found = await moderation.reports_by_ids(page.ids)
        return Connection.of(
            page,
            [
                ContentReport(
                    raw=r, reason=ReportReason(r.reason), note=r.note, created_at=r.created_at
                )
                if (r := found.get(i))
                else None
                for i in page.ids
            ],
        )


@strawberry.input(description="Exactly one of postId, commentId, userId and messageId.")
class ReportContentInput:
    reason: ReportReason
    post_id: strawberry.ID | None = None
    comment_id: strawberry.ID | None = None
    user_id: strawberry.ID | None = None
    message_id: strawberry.ID | None = None
    note: str = ""


@strawberry.type
class ReportContentPayload:
    reported: bool = strawberry.field(
        default=False, description="True once it is reported (a second report changes nothing)."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ResolveReportInput:
    target_id: strawberry.ID
    action: Resolution
    note: str = strawberry.field(default="", description="Why: kept with the decision.")


@strawberry.type
class ResolveReportPayload:
    case: ReportedTarget | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _reported(_: bool) -> ReportContentPayload:
    return ReportContentPayload(reported=True)


def _resolved(view: moderation.CaseView) -> ResolveReportPayload:
    return ResolveReportPayload(case=ReportedTarget.from_view(view))


@strawberry.type
class ModerationQuery:
    @strawberry.field(
        description="Open cases, the most recently reported or held first (moderators only)."
    )
    async def moderation_queue(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ReportedTarget]:
        page = await resolve.queue(info.context, first, after)
        found = await moderation.cases_by_ids(page.ids)
        return Connection.of(
            page, [ReportedTarget.from_view(c) if (c := found.get(i)) else None for i in page.ids]
        )


@strawberry.type
class ModerationMutation:
    @mutation(
        "Report a post, comment, account or message you can see; once enough people reported"
        " a post or comment it is hidden (but from its author) until a moderator decides.",
        errors=(
            ErrorCode.UNAUTHENTICATED,
            ErrorCode.INVALID_INPUT,
            ErrorCode.INVALID_ID,
            ErrorCode.NOT_FOUND,
        ),
    )
    async def report_content(self, info: Info, input: ReportContentInput) -> ReportContentPayload:
        return await respond(
            info,
            ReportContentPayload,
            lambda: resolve.report(
                info.context,
                targets={
                    "postId": input.post_id,
                    "commentId": input.comment_id,
                    "userId": input.user_id,
                    "messageId": input.message_id,
                },
                reason=input.reason,
                note=input.note,
            ),
            _reported,
        )

    @mutation(
        "A moderator's decision on a reported or held target; recorded with who and why.",
        errors=(
            ErrorCode.UNAUTHENTICATED,
            ErrorCode.FORBIDDEN,
            ErrorCode.INVALID_ID,
            ErrorCode.INVALID_INPUT,
            ErrorCode.NOT_FOUND,
        ),
    )
    async def resolve_report(self, info: Info, input: ResolveReportInput) -> ResolveReportPayload:
        return await respond(
            info,
            ResolveReportPayload,
            lambda: resolve.resolve(
                info.context,
                target_id=input.target_id,
                resolution=input.action,
                note=input.note,
            ),
            _resolved,
        )
