"""reels, logViews and notInterested."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.types.base import get_object_definition

from domain.errors import ErrorCode
from domain.reels.models import Surface
from domain.reels.service import Logged
from resolvers import reels as resolve
from resolvers.context import Info
from schema.errors import UserError, mutation, respond
from schema.pagination import Connection
from schema.posts import Post, post_connection

strawberry.enum(Surface, name="ViewSurface", description="Where the post was seen.")


@strawberry.input
class ViewEventInput:
    post_id: strawberry.ID
    watched_ms: int = strawberry.field(description="0 to 600000 (10 minutes).")
    completed: bool = False
    surface: Surface = Surface.FEED


def _event(cls: type, value: Mapping[str, Any], _: object) -> ViewEventInput:
    """A ViewEventInput from its coerced GraphQL value, directly (and LogViewsInput below): a
    logViews batch holds up to 100 of them, and Strawberry's general conversion (each field's
    type resolved and tested anew, for every event) was a third of the call's CPU. graphql-core
    has already checked the value and filled in the defaults; the enum is the Python member
    already."""
    return cls(
        post_id=value["postId"],
        watched_ms=value["watchedMs"],
        completed=value["completed"],
        surface=value["surface"],
    )


@strawberry.input
class LogViewsInput:
    batch_id: str = strawberry.field(
        description="Made by the client, 1-64 characters: a retried batch counts once."
    )
    events: list[ViewEventInput] = strawberry.field(description="At most 100.")


def _batch(cls: type, value: Mapping[str, Any], _: object) -> LogViewsInput:
    return cls(
        batch_id=value["batchId"], events=[_event(ViewEventInput, e, _) for e in value["events"]]
    )


get_object_definition(ViewEventInput, strict=True).from_input = _event
get_object_definition(LogViewsInput, strict=True).from_input = _batch


@strawberry.type
class LogViewsPayload:
    accepted: int = 0
    rejected: int = strawberry.field(
        default=0,
        description="Events dropped: unknown or invisible posts, impossible watch times.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class NotInterestedInput:
    post_id: strawberry.ID


@strawberry.type
class NotInterestedPayload:
    post_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _logged(logged: Logged) -> LogViewsPayload:
    return LogViewsPayload(accepted=logged.accepted, rejected=logged.rejected)


@strawberry.type
class ReelsQuery:
    @strawberry.field(
        description="Short videos from accounts the viewer may see, followed or not: never one"
        " watched to the end in the last 7 days or marked not interested, never two in a row"
        " by one author; ordered by freshness, completion rate, likes and plays (until the"
        " learned ranking), as a snapshot whose cursors hold while new reels arrive."
    )
    async def reels(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Post]:
        return await post_connection(info, await resolve.page(info.context, first, after))


@strawberry.type
class ReelsMutation:
    @mutation(
        "Log what the viewer saw and watched (a batch of up to 100 events, idempotent by"
        " batchId): the ranking's training data and Post.viewCount / playCount.",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_INPUT),
    )
    async def log_views(self, info: Info, input: LogViewsInput) -> LogViewsPayload:
        return await respond(
            info,
            LogViewsPayload,
            lambda: resolve.log_views(
                info.context,
                batch_id=input.batch_id,
                events=[(e.post_id, e.watched_ms, e.completed, e.surface) for e in input.events],
            ),
            _logged,
        )

    @mutation(
        "Never show this post again on reels or explore (a negative signal for the ranking).",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND),
    )
    async def not_interested(self, info: Info, input: NotInterestedInput) -> NotInterestedPayload:
        return await respond(
            info,
            NotInterestedPayload,
            lambda: resolve.not_interested(info.context, post_id=input.post_id),
            lambda post_id: NotInterestedPayload(post_id=strawberry.ID(post_id)),
        )
