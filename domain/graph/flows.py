"""Follow-graph flows: each commits first (through `service`), then has the feeds of the users
whose follows changed rebuilt, and tells whom a follow concerns, through the ports it is given."""

from __future__ import annotations

from domain.graph import service
from domain.graph.models import FollowStatus
from domain.notifications.service import Event
from domain.ports import Ports
from domain.users.store import UserStore


async def follow(
    *, follower_id: int, followee_id: int, users: UserStore, ports: Ports
) -> FollowStatus:
    """Follow, or ask to follow a private account. An active follow backfills the follower's
    feed with the followee's recent posts; the followee is told either way, once per follow (a
    retried follow is the same event; following again after an unfollow is a new one)."""
    followed = await service.follow(follower_id=follower_id, followee_id=followee_id, users=users)
    status = followed.status
    if status is FollowStatus.ACTIVE:
        await ports.jobs.refresh_feeds(user_ids=[follower_id])
    kind = "FOLLOW_REQUEST" if status is FollowStatus.PENDING else "FOLLOW"
    await ports.jobs.notify(
        Event(kind, follower_id, followee_id, key=f"{kind.lower()}:{followed.follow_id}")
    )
    return status


async def unfollow(*, follower_id: int, followee_id: int, users: UserStore, ports: Ports) -> None:
    await service.unfollow(follower_id=follower_id, followee_id=followee_id, users=users)
    await ports.jobs.refresh_feeds(user_ids=[follower_id])


async def approve_request(
    *, owner_id: int, requester_id: int, users: UserStore, ports: Ports
) -> None:
    await service.approve_request(owner_id=owner_id, requester_id=requester_id, users=users)
    await ports.jobs.refresh_feeds(user_ids=[requester_id])


async def remove_follower(
    *, owner_id: int, follower_id: int, users: UserStore, ports: Ports
) -> None:
    await service.remove_follower(owner_id=owner_id, follower_id=follower_id, users=users)
    await ports.jobs.refresh_feeds(user_ids=[follower_id])


async def block(*, blocker_id: int, blocked_id: int, users: UserStore, ports: Ports) -> None:
    """A block ends follows both ways: both feeds lose the other's posts."""
    await service.block(blocker_id=blocker_id, blocked_id=blocked_id, users=users)
    await ports.jobs.refresh_feeds(user_ids=[blocker_id, blocked_id])
