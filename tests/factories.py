"""Factory helpers: accounts and follows made straight through the domain, tokens to act as them,
and posts made through the API."""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from starlette.requests import Request

from config.runtime import Runtime
from config.settings import Settings
from domain.feed import flows as feed_flows
from domain.feed.service import FeedStores
from domain.graph import service as graph
from domain.media.models import Media
from domain.media.store import original_key
from domain.users.models import User
from domain.users.store import UserStore
from domain.users.tokens import create_access_token
from resolvers.context import Context
from resolvers.global_ids import to_global_id
from tests.client import GraphQLClient

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)


async def make_user(username: str | None = None, *, private: bool = False, **fields: Any) -> User:
    username = username or f"user{next(_counter)}"
    return await User.create(
        username=username,
        email=f"{username}@example.test",
        password_hash=_password_hash(),
        is_private=private,
        **fields,
    )


def context_for(runtime: Runtime, viewer_id: int | None) -> Context:
    """The GraphQL context of an in-process request by this viewer (None: signed out)."""
    request = Request({"type": "http", "method": "POST", "headers": [], "path": "/graphql"})
    return Context(runtime=runtime, request=request, response=None, viewer_id=viewer_id)


def token_for(user: User, settings: Settings) -> str:
    return create_access_token(user_id=user.id, secret=settings.jwt_secret, ttl_seconds=600)


def gid(user: User) -> str:
    return to_global_id("User", user.id)


async def follow(follower: User, followee: User, users: UserStore) -> None:
    await graph.follow(follower_id=follower.id, followee_id=followee.id, users=users)


async def make_media(
    owner: User, *, kind: str = "IMAGE", status: str = "READY", duration_ms: int | None = None
) -> Media:
    """A media row as the pipeline leaves it (the pipeline itself is tested in test_media)."""
    media = Media(
        owner_id=owner.id,
        kind=kind,
        status=status,
        declared_type="image/jpeg",
        declared_size=1000,
        original_key="",
        width=1080,
        height=1080,
        duration_ms=duration_ms,
    )
    media.original_key = original_key(owner.id, media.id)
    if status == "READY":
        media.variants = [
            {
                "key": f"m/{owner.id}/{media.id}/w1080.jpg",
                "width": 1080,
                "height": 1080,
                "content_type": "image/jpeg",
            }
        ]
    await media.save()
    return media


def media_gid(media: Media) -> str:
    return to_global_id("Media", media.id)


async def create_post(
    client: GraphQLClient,
    token: str,
    media: list[Media],
    caption: str = "",
    *,
    fields: str = "post { id }",
) -> dict[str, Any]:
    """createPost through the API, as the token's user; its payload (`fields` of it)."""
    return await client.mutate(
        "createPost",
        fields,
        {"mediaIds": [media_gid(m) for m in media], "caption": caption},
        token=token,
    )


async def fan_out(runtime: Runtime, post_id: int, *, stores: FeedStores | None = None) -> int:
    """A committed post's fan-out, as its job runs it (once here, and at once)."""
    return await feed_flows.fan_out(
        post_id=post_id, stores=stores or runtime.feed_stores, ports=runtime.ports
    )
