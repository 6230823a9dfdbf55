"""Per-request DataLoaders: every lookup a request makes is batched into one call per type.

A new `Loaders` is built for each request (in the GraphQL context), so nothing cached here can
outlive the request or leak between viewers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from domain.graph import service as graph
from domain.media.store import MediaStore, MediaView
from domain.users.store import UserStore, UserView


class Loaders:
    def __init__(self, *, users: UserStore, media: MediaStore, viewer_id: int | None) -> None:
        self._users = users
        self._media = media
        self._viewer_id = viewer_id
        self.user = DataLoader[int, UserView | None](self._load_users)
        self.media = DataLoader[int, MediaView | None](self._load_media)
        self.viewer_follow_status = DataLoader[int, str | None](self._load_follow_status)
        self.follows_viewer = DataLoader[int, bool](self._load_follows_viewer)
        self.blocked_with_viewer = DataLoader[int, bool](self._load_blocked)

    async def _load_users(self, ids: Sequence[int]) -> list[UserView | None]:
        found = await self._users.get_many(ids)
        return [found.get(i) for i in ids]

    async def _load_media(self, ids: Sequence[int]) -> list[MediaView | None]:
        found = await self._media.get_many(ids)
        return [found.get(i) for i in ids]

    async def _load_follow_status(self, ids: Sequence[int]) -> list[str | None]:
        if self._viewer_id is None:
            return [None] * len(ids)
        statuses = await graph.follow_statuses(follower_id=self._viewer_id, followee_ids=ids)
        return [statuses.get(i) for i in ids]

    async def _load_follows_viewer(self, ids: Sequence[int]) -> list[bool]:
        if self._viewer_id is None:
            return [False] * len(ids)
        followers = await graph.followers_among(user_id=self._viewer_id, candidate_ids=ids)
        return [i in followers for i in ids]

    async def _load_blocked(self, ids: Sequence[int]) -> list[bool]:
        if self._viewer_id is None:
            return [False] * len(ids)
        blocked = await graph.blocked_among(viewer_id=self._viewer_id, other_ids=ids)
        return [i in blocked for i in ids]

    def forget(self, *user_ids: int) -> None:
        """Drop what this request loaded about these users, after a write changed it."""
        loaders: list[DataLoader[int, Any]] = [
            self.user,
            self.viewer_follow_status,
            self.follows_viewer,
            self.blocked_with_viewer,
        ]
        for user_id in user_ids:
            for loader in loaders:
                with contextlib.suppress(KeyError):  # DataLoader.clear of an unloaded key
                    loader.clear(user_id)
