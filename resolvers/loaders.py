"""Per-request DataLoaders: every lookup a request makes is batched into one call per type.

A new `Loaders` is built for each request (in the GraphQL context), so nothing cached here can
outlive the request or leak between viewers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from domain.graph import service as graph
from domain.media.store import MediaStore, MediaView
from domain.messaging import service as messaging
from domain.messaging.service import MessageRow, ThreadState
from domain.posts import queries
from domain.posts.queries import HashtagRow
from domain.posts.store import CommentView, PostStore, PostView
from domain.users.store import UserStore, UserView


class Loaders:
    def __init__(
        self, *, users: UserStore, media: MediaStore, posts: PostStore, viewer_id: int | None
    ) -> None:
        self._users = users
        self._media = media
        self._posts = posts
        self._viewer_id = viewer_id
        self.user = DataLoader[int, UserView | None](self._load_users)
        self.media = DataLoader[int, MediaView | None](self._load_media)
        self.post = DataLoader[int, PostView | None](self._load_posts)
        self.comment = DataLoader[int, CommentView | None](self._load_comments)
        self.hashtag = DataLoader[int, HashtagRow | None](self._load_hashtags)
        self.viewer_liked = DataLoader[int, bool](self._viewer_set(queries.liked_posts_among))
        self.viewer_saved = DataLoader[int, bool](self._viewer_set(queries.saved_posts_among))
        self.viewer_liked_comment = DataLoader[int, bool](
            self._viewer_set(queries.liked_comments_among)
        )
        self.message = DataLoader[int, MessageRow | None](self._load_messages)
        self.thread_members = DataLoader[int, list[int]](self._load_thread_members)
        self.thread_state = DataLoader[int, ThreadState | None](self._load_thread_states)
        self.viewer_follow_status = DataLoader[int, str | None](self._load_follow_status)
        self.follows_viewer = DataLoader[int, bool](self._load_follows_viewer)
        self.blocked_with_viewer = DataLoader[int, bool](self._load_blocked)

    async def _load_users(self, ids: Sequence[int]) -> list[UserView | None]:
        found = await self._users.get_many(ids)
        return [found.get(i) for i in ids]

    async def _load_media(self, ids: Sequence[int]) -> list[MediaView | None]:
        found = await self._media.get_many(ids)
        return [found.get(i) for i in ids]

    async def _load_messages(self, ids: Sequence[int]) -> list[MessageRow | None]:
        found = await messaging.messages_by_ids(list(ids))
        return [found.get(i) for i in ids]

    async def _load_thread_members(self, ids: Sequence[int]) -> list[list[int]]:
        found = await messaging.members_by_threads(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_thread_states(self, ids: Sequence[int]) -> list[ThreadState | None]:
        if self._viewer_id is None:
            return [None] * len(ids)
        found = await messaging.state(user_id=self._viewer_id, thread_ids=list(ids))
        return [found.get(i) for i in ids]

    async def _load_posts(self, ids: Sequence[int]) -> list[PostView | None]:
        found = await self._posts.get_posts(list(ids))
        return [found.get(i) for i in ids]

    async def _load_comments(self, ids: Sequence[int]) -> list[CommentView | None]:
        found = await self._posts.get_comments(list(ids))
        return [found.get(i) for i in ids]

    async def _load_hashtags(self, ids: Sequence[int]) -> list[HashtagRow | None]:
        found = await queries.hashtags_by_ids(ids)
        return [found.get(i) for i in ids]

    def _viewer_set(
        self, among: Callable[[int, Sequence[int]], Awaitable[set[int]]]
    ) -> Callable[[Sequence[int]], Awaitable[list[bool]]]:
        """A batch function: which of the ids the viewer has liked (or saved ...)."""

        async def load(ids: Sequence[int]) -> list[bool]:
            if self._viewer_id is None:
                return [False] * len(ids)
            members = await among(self._viewer_id, ids)
            return [i in members for i in ids]

        return load

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

    def forget_keys(self, loader: DataLoader[int, Any], *keys: int) -> None:
        for key in keys:
            with contextlib.suppress(KeyError):  # DataLoader.clear of an unloaded key
                loader.clear(key)

    def forget(self, *user_ids: int) -> None:
        """Drop what this request loaded about these users, after a write changed it."""
        loaders: list[DataLoader[int, Any]] = [
            self.user,
            self.viewer_follow_status,
            self.follows_viewer,
            self.blocked_with_viewer,
        ]
        for loader in loaders:
            self.forget_keys(loader, *user_ids)
