"""Account flows that write more than once."""

from __future__ import annotations

from domain.ports import Ports
from domain.users import service
from domain.users.store import UserStore


async def update_profile(
    *,
    user_id: int,
    users: UserStore,
    ports: Ports,
    full_name: str | None = None,
    bio: str | None = None,
    is_private: bool | None = None,
    avatar_media_id: int | None = None,
    remove_avatar: bool = False,
) -> None:
    """Change the profile; going public approves every waiting request, and the feeds of
    those it approved are rebuilt with the account's posts."""
    approved = await service.update_profile(
        user_id=user_id,
        users=users,
        full_name=full_name,
        bio=bio,
        is_private=is_private,
        avatar_media_id=avatar_media_id,
        remove_avatar=remove_avatar,
    )
    if approved:
        await ports.jobs.refresh_feeds(user_ids=approved)
