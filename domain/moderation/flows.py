"""Moderation flows: a decision is committed (the case closed and recorded) after what it
does to the content or the account; caches follow."""

from __future__ import annotations

from tortoise import connections

from domain.errors import DomainError
from domain.moderation import service
from domain.moderation.models import Resolution, TargetKind
from domain.ports import Ports
from domain.posts import flows as post_flows
from domain.posts import service as posts
from domain.posts.service import Stores
from domain.users import lifecycle


async def resolve(
    *,
    moderator_id: int,
    kind: TargetKind,
    target_id: int,
    resolution: Resolution,
    note: str,
    stores: Stores,
    ports: Ports,
) -> service.CaseView:
    """DISMISS (shown again), REMOVE (the content deleted; for an account, suspended) or
    SUSPEND_AUTHOR (its author's account suspended: signed out, hidden everywhere)."""
    case = await service.open_case(kind, target_id)
    author = case.author_id
    if resolution is Resolution.REMOVE and kind is not TargetKind.USER:
        await _remove(kind, target_id, author_id=author, stores=stores, ports=ports)
    if resolution is Resolution.SUSPEND_AUTHOR or (
        resolution is Resolution.REMOVE and kind is TargetKind.USER
    ):
        await lifecycle.suspend(user_id=author, users=stores.users)
    await service.close(case=case, moderator_id=moderator_id, resolution=resolution, note=note)
    await service.forget_target(stores.posts, stores.users, case)
    closed = await service.case_for(kind, target_id)
    assert closed is not None
    return closed


async def _remove(
    kind: TargetKind, target_id: int, *, author_id: int, stores: Stores, ports: Ports
) -> None:
    """Delete the content as its author would (counters, feeds and files follow); gone
    already is fine."""
    try:
        if kind is TargetKind.POST:
            await post_flows.delete_post(
                post_id=target_id, viewer_id=author_id, stores=stores, ports=ports
            )
        elif kind is TargetKind.COMMENT:
            await posts.delete_comment(comment_id=target_id, viewer_id=author_id, stores=stores)
    except DomainError:
        return  # deleted meanwhile
    if kind is TargetKind.MESSAGE:
        await connections.get("default").execute_query(
            "/* moderation.remove_message */ DELETE FROM messages WHERE id = $1", [target_id]
        )
