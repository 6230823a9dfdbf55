"""Reports and the moderators' queue: who may see what is reported, and who may decide."""

from __future__ import annotations

from domain.errors import DomainError, ErrorCode, ValidationErrors
from domain.moderation import flows
from domain.moderation import service as moderation
from domain.moderation.models import ReportReason, Resolution, TargetKind
from domain.pagination import Page
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import id_input, page_arguments, parse_global_id
from resolvers.messaging import visible_message
from resolvers.posts import visible_comment, visible_post
from resolvers.users import visible_user

_KINDS = {
    "Post": TargetKind.POST,
    "Comment": TargetKind.COMMENT,
    "User": TargetKind.USER,
    "Message": TargetKind.MESSAGE,
}


async def _target(ctx: Context, kind: TargetKind, raw_id: int, field: str) -> moderation.Target:
    """What the viewer reports, as they may see it: anything else is not found."""
    if kind is TargetKind.POST:
        post = await visible_post(ctx, raw_id)
        if post:
            return moderation.Target(kind, raw_id, post.author_id, post.caption)
    elif kind is TargetKind.COMMENT:
        comment = await visible_comment(ctx, raw_id)
        if comment:
            return moderation.Target(kind, raw_id, comment.author_id, comment.text)
    elif kind is TargetKind.USER:
        user = await visible_user(ctx, raw_id)
        if user:
            text = f"@{user.username} {user.full_name}\n{user.bio}".strip()
            return moderation.Target(kind, raw_id, user.id, text)
    else:
        message = await visible_message(ctx, raw_id)
        if message:
            return moderation.Target(kind, raw_id, message.sender_id, message.text)
    raise DomainError(ErrorCode.NOT_FOUND, f"No {kind.value.lower()} with this id.", field=field)


async def report(
    ctx: Context,
    *,
    targets: dict[str, str | None],
    reason: ReportReason,
    note: str,
) -> bool:
    """`targets`: the input's postId, commentId, userId and messageId, of which one is set."""
    viewer = ctx.signed_in()
    given = {field: value for field, value in targets.items() if value}
    if len(given) != 1:
        raise ValidationErrors(
            [
                DomainError(ErrorCode.INVALID_INPUT, "Name exactly one thing to report.", field=f)
                for f in targets
            ]
        )
    [(field, global_id)] = given.items()
    type_name = field.removesuffix("Id").capitalize()
    raw_id = id_input(global_id, type_name, field=field)
    target = await _target(ctx, _KINDS[type_name], raw_id, field)
    async with ctx.spending("report"):
        return await moderation.report(
            reporter_id=viewer,
            target=target,
            reason=reason,
            note=note,
            reports_to_hide=ctx.runtime.settings.reports_to_hide,
            posts=ctx.runtime.posts,
        )


async def require_moderator(ctx: Context) -> int:
    viewer = ctx.require_viewer()
    if not await moderation.is_moderator(viewer):
        raise ClientError("Only moderators can do this.", code=ErrorCode.FORBIDDEN)
    return viewer


async def queue(ctx: Context, first: int | None, after: str | None) -> Page:
    await require_moderator(ctx)
    limit, position = page_arguments(first, after)
    return await moderation.queue(first=limit, after=position)


async def resolve(
    ctx: Context, *, target_id: str, resolution: Resolution, note: str
) -> moderation.CaseView:
    viewer = ctx.signed_in()
    if not await moderation.is_moderator(viewer):
        raise DomainError(ErrorCode.FORBIDDEN, "Only moderators can do this.")
    try:
        type_name, raw_id = parse_global_id(target_id)
    except ValueError:
        raise DomainError(
            ErrorCode.INVALID_ID, "'targetId' is not a valid id.", field="targetId"
        ) from None
    kind = _KINDS.get(type_name)
    if kind is None:
        raise DomainError(
            ErrorCode.INVALID_ID,
            "'targetId' is not a post, comment, user or message.",
            field="targetId",
        )
    return await flows.resolve(
        moderator_id=viewer,
        kind=kind,
        target_id=raw_id,
        resolution=resolution,
        note=note.strip(),
        stores=ctx.runtime.post_stores,
        ports=ctx.runtime.ports,
    )
