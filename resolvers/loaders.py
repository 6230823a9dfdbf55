"""Per-request DataLoaders: every lookup a request makes is batched into one call per type.

A new `Loaders` is built for each request (in the GraphQL context), so nothing cached here can
outlive the request or leak between viewers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import AbstractCache, DataLoader

from domain.graph import service as graph
from domain.media.store import MediaStore, MediaView
from domain.messaging import service as messaging
from domain.messaging.service import MessageView, ThreadState
from domain.posts import queries
from domain.posts.queries import HashtagView
from domain.posts.store import CommentView, PostStore, PostView
from domain.stories import service as story_service
from domain.stories.store import StoryStore, StoryView
from domain.users.store import UserStore, UserView

K = TypeVar("K")
T = TypeVar("T")


class PrimedCache(AbstractCache[K, T]):
    """A DataLoader cache that keeps values known ahead (see Loaders.prime) as they are, and
    makes a value's future only when it is loaded: priming a feed page's posts, authors and
    media made some thirty futures per request, most of them never asked for."""

    def __init__(self) -> None:
        self._futures: dict[K, asyncio.Future[T]] = {}
        self._known: dict[K, T] = {}

    def prime(self, values: Mapping[K, T]) -> None:
        for key, value in values.items():
            if key not in self._futures:
                self._known[key] = value

    def get(self, key: K) -> asyncio.Future[T] | None:
        future = self._futures.get(key)
        if future is None and key in self._known:
            future = asyncio.get_running_loop().create_future()
            future.set_result(self._known.pop(key))
            self._futures[key] = future
        return future

    def set(self, key: K, value: asyncio.Future[T]) -> None:
        self._futures[key] = value
        self._known.pop(key, None)

    def delete(self, key: K) -> None:
        self._futures.pop(key, None)
        self._known.pop(key, None)

    def clear(self) -> None:
        self._futures.clear()
        self._known.clear()


async def _seen_among(viewer_id: int, story_ids: Sequence[int]) -> set[int]:
    return await story_service.seen_by(viewer_id=viewer_id, story_ids=list(story_ids))


class Loaders:
    """Each loader is made on first use: a request builds only the few it needs."""

    def __init__(
        self,
        *,
        users: UserStore,
        media: MediaStore,
        posts: PostStore,
        stories: StoryStore,
        viewer_id: int | None,
    ) -> None:
        # The batch functions live apart: were they methods of this object, each loader would
        # point back at it, and every request's loaders would be garbage for the cyclic
        # collector rather than freed when the request ends.
        self._batches = Batches(
            users=users, media=media, posts=posts, stories=stories, viewer_id=viewer_id
        )

    @cached_property
    def user(self) -> DataLoader[int, UserView | None]:
        return DataLoader(self._batches.users, cache_map=PrimedCache())

    @cached_property
    def media(self) -> DataLoader[int, MediaView | None]:
        return DataLoader(self._batches.media, cache_map=PrimedCache())

    @cached_property
    def post(self) -> DataLoader[int, PostView | None]:
        return DataLoader(self._batches.posts, cache_map=PrimedCache())

    @cached_property
    def comment(self) -> DataLoader[int, CommentView | None]:
        return DataLoader(self._batches.comments)

    @cached_property
    def hashtag(self) -> DataLoader[int, HashtagView | None]:
        return DataLoader(self._batches.hashtags)

    @cached_property
    def viewer_liked(self) -> DataLoader[int, bool]:
        return DataLoader(self._batches.viewer_set(queries.liked_posts_among))

    @cached_property
    def viewer_saved(self) -> DataLoader[int, bool]:
        return DataLoader(self._batches.viewer_set(queries.saved_posts_among))

    @cached_property
    def viewer_liked_comment(self) -> DataLoader[int, bool]:
        return DataLoader(self._batches.viewer_set(queries.liked_comments_among))

    @cached_property
    def story(self) -> DataLoader[int, StoryView | None]:
        return DataLoader(self._batches.stories, cache_map=PrimedCache())

    @cached_property
    def story_seen(self) -> DataLoader[int, bool]:
        return DataLoader(self._batches.viewer_set(_seen_among))

    @cached_property
    def message(self) -> DataLoader[int, MessageView | None]:
        return DataLoader(self._batches.messages)

    @cached_property
    def thread_members(self) -> DataLoader[int, list[int]]:
        return DataLoader(self._batches.thread_members)

    @cached_property
    def thread_state(self) -> DataLoader[int, ThreadState | None]:
        return DataLoader(self._batches.thread_states)

    @cached_property
    def viewer_follow_status(self) -> DataLoader[int, str | None]:
        return DataLoader(self._batches.follow_status)

    @cached_property
    def follows_viewer(self) -> DataLoader[int, bool]:
        return DataLoader(self._batches.follows_viewer)

    @cached_property
    def blocked_with_viewer(self) -> DataLoader[int, bool]:
        return DataLoader(self._batches.blocked)

    @staticmethod
    def prime(loader: DataLoader[K, T], values: Mapping[K, T]) -> None:
        """Hand the loader values read already (a page read whole), for later fields."""
        cache = loader.cache_map
        if isinstance(cache, PrimedCache):
            cache.prime(values)
        else:
            loader.prime_many(values)

    def forget_keys(self, loader: DataLoader[int, Any], *keys: int) -> None:
        for key in keys:
            with contextlib.suppress(KeyError):  # DataLoader.clear of an unloaded key
                loader.clear(key)

    def forget(self, *user_ids: int) -> None:
        """Drop what this request loaded about these users, after a write changed it."""
        for name in ("user", "viewer_follow_status", "follows_viewer", "blocked_with_viewer"):
            if name in self.__dict__:  # made already (cached_property keeps it there)
                self.forget_keys(self.__dict__[name], *user_ids)


class Batches:
    """The batch functions behind the loaders: one call for many keys each."""

    def __init__(
        self,
        *,
        users: UserStore,
        media: MediaStore,
        posts: PostStore,
        stories: StoryStore,
        viewer_id: int | None,
    ) -> None:
        self._users = users
        self._stories = stories
        self._media = media
        self._posts = posts
        self._viewer_id = viewer_id

    async def users(self, ids: Sequence[int]) -> list[UserView | None]:
        found = await self._users.get_many(ids)
        return [found.get(i) for i in ids]

    async def media(self, ids: Sequence[int]) -> list[MediaView | None]:
        found = await self._media.get_many(ids)
        return [found.get(i) for i in ids]

    async def stories(self, ids: Sequence[int]) -> list[StoryView | None]:
        found = await self._stories.rows.get_many(ids)
        return [found.get(i) for i in ids]

    async def messages(self, ids: Sequence[int]) -> list[MessageView | None]:
        found = await messaging.messages_by_ids(list(ids))
        return [found.get(i) for i in ids]

    async def thread_members(self, ids: Sequence[int]) -> list[list[int]]:
        found = await messaging.members_by_threads(list(ids))
        return [found.get(i, []) for i in ids]

    async def thread_states(self, ids: Sequence[int]) -> list[ThreadState | None]:
        if self._viewer_id is None:
            return [None] * len(ids)
        found = await messaging.state(user_id=self._viewer_id, thread_ids=list(ids))
        return [found.get(i) for i in ids]

    async def posts(self, ids: Sequence[int]) -> list[PostView | None]:
        found = await self._posts.get_posts(list(ids))
        return [found.get(i) for i in ids]

    async def comments(self, ids: Sequence[int]) -> list[CommentView | None]:
        found = await self._posts.get_comments(list(ids))
        return [found.get(i) for i in ids]

    async def hashtags(self, ids: Sequence[int]) -> list[HashtagView | None]:
        found = await queries.hashtags_by_ids(ids)
        return [found.get(i) for i in ids]

    def viewer_set(
        self, among: Callable[[int, Sequence[int]], Awaitable[set[int]]]
    ) -> Callable[[Sequence[int]], Awaitable[list[bool]]]:
        """A batch function: which of the ids the viewer has liked (or saved ...)."""

        async def load(ids: Sequence[int]) -> list[bool]:
            if self._viewer_id is None:
                return [False] * len(ids)
            members = await among(self._viewer_id, ids)
            return [i in members for i in ids]

        return load

    async def follow_status(self, ids: Sequence[int]) -> list[str | None]:
        if self._viewer_id is None:
            return [None] * len(ids)
        statuses = await graph.follow_statuses(follower_id=self._viewer_id, followee_ids=ids)
        return [statuses.get(i) for i in ids]

    async def follows_viewer(self, ids: Sequence[int]) -> list[bool]:
        if self._viewer_id is None:
            return [False] * len(ids)
        followers = await graph.followers_among(user_id=self._viewer_id, candidate_ids=ids)
        return [i in followers for i in ids]

    async def blocked(self, ids: Sequence[int]) -> list[bool]:
        if self._viewer_id is None:
            return [False] * len(ids)
        blocked = await graph.blocked_among(viewer_id=self._viewer_id, other_ids=ids)
        return [i in blocked for i in ids]
