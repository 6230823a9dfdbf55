"""Factory helpers: accounts and follows made straight through the domain, tokens to act as them."""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher

from config.settings import Settings
from domain.graph import service as graph
from domain.users.models import User
from domain.users.store import UserStore
from domain.users.tokens import create_access_token
from resolvers.global_ids import to_global_id

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


def token_for(user: User, settings: Settings) -> str:
    return create_access_token(user_id=user.id, secret=settings.jwt_secret, ttl_seconds=600)


def gid(user: User) -> str:
    return to_global_id("User", user.id)


async def follow(follower: User, followee: User, users: UserStore) -> None:
    await graph.follow(follower_id=follower.id, followee_id=followee.id, users=users)
