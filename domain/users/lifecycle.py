"""An account's life after sign-up: a new password, deactivation, deletion, suspension.

Each step that ends sessions raises the user's token epoch (every access token issued before
stops working at once: `tokens.authenticate`) and revokes every refresh token family. Only
ACTIVE accounts are readable (`domain/users/store.py`), so a deactivated, suspended or deleted
account is hidden everywhere the moment its cached row is dropped.

Deletion anonymises the row at once (no name, email, bio, avatar or password left) and leaves
the rest to `purge`, an idempotent job: posts with their files, comments, likes, saves,
follows, blocks, notifications and media go; messages stay in their threads, sent by a
"deleted user" (their sender reads as null).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode
from domain.users import passwords
from domain.users.models import AccountStatus, User
from domain.users.store import UserStore
from domain.users.tokens import revoke_all

REACTIVATION_WINDOW = timedelta(days=30)


async def _verified(user_id: int, password: str, *, field: str = "password") -> User:
    user = await User.get_or_none(id=user_id, status=AccountStatus.ACTIVE)
    if user is None or not await passwords.verify_password(user.password_hash, password):
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "The password is not right.", field=field)
    return user


async def _end_sessions(
    conn: BaseDBAsyncClient, user_id: int, sets: str, args: list[object]
) -> None:
    """Change the row (`sets`, with $2... as `args`), raise its token epoch and revoke every
    refresh token, in the caller's transaction."""
    await conn.execute_query(
        f"/* users.end_sessions */ UPDATE users SET {sets}, token_epoch = token_epoch + 1,"
        " updated_at = now() WHERE id = $1",
        [user_id, *args],
    )
    await revoke_all(conn, user_id)


async def change_password(
    *, user_id: int, current_password: str, new_password: str, users: UserStore
) -> None:
    """A new password; every session (access and refresh tokens) issued before ends."""
    user = await _verified(user_id, current_password, field="currentPassword")
    try:
        passwords.check_strength(new_password, username=user.username, email=user.email)
    except DomainError as error:
        raise DomainError(error.code, error.message, field="newPassword") from None
    new_hash = await passwords.hash_password(new_password)
    async with in_transaction() as conn:
        await _end_sessions(conn, user_id, "password_hash = $2", [new_hash])
    await users.invalidate(user_id)


async def deactivate(*, user_id: int, password: str, users: UserStore) -> None:
    """Hidden everywhere, signed out everywhere; signing in within 30 days brings it back."""
    await _verified(user_id, password)
    async with in_transaction() as conn:
        await _end_sessions(
            conn,
            user_id,
            "status = $2, status_changed_at = now()",
            [AccountStatus.DEACTIVATED.value],
        )
    await users.invalidate(user_id)


async def suspend(*, user_id: int, users: UserStore) -> None:
    """A moderator's decision: signed out everywhere and hidden everywhere."""
    async with in_transaction() as conn:
        await _end_sessions(
            conn, user_id, "status = $2, status_changed_at = now()", [AccountStatus.SUSPENDED.value]
        )
    await users.invalidate(user_id)


async def reactivate_if_returning(user: User, *, users: UserStore) -> None:
    """Sign-in with the right password: an account deactivated within the window comes back;
    one suspended is refused, with a clear reason; anything else is not there."""
    if user.status is AccountStatus.ACTIVE:
        return
    if user.status is AccountStatus.SUSPENDED:
        raise DomainError(ErrorCode.FORBIDDEN, "This account is suspended for breaking the rules.")
    since = user.status_changed_at
    returning = since is not None and datetime.now(UTC) - since <= REACTIVATION_WINDOW
    if user.status is AccountStatus.DEACTIVATED and returning:
        await User.filter(id=user.id, status=AccountStatus.DEACTIVATED).update(
            status=AccountStatus.ACTIVE, status_changed_at=datetime.now(UTC)
        )
        await users.invalidate(user.id)
        return
    raise DomainError(
        ErrorCode.INVALID_CREDENTIALS, "The username or password is not right.", field="password"
    )


@dataclass(frozen=True)
class Deleted:
    user_id: int
    username: str  # the name it had, for the caller to forget in caches


async def delete(*, user_id: int, password: str, users: UserStore) -> Deleted:
    """Anonymise the account at once and end its sessions; `purge` (a job) removes the rest."""
    user = await _verified(user_id, password)
    async with in_transaction() as conn:
        await anonymise(conn, user_id)
    await users.invalidate(user_id)
    await users.forget_username(user.username)
    return Deleted(user_id, user.username)


async def anonymise(conn: BaseDBAsyncClient, user_id: int) -> None:
    await _end_sessions(
        conn,
        user_id,
        "status = $2, status_changed_at = now(), username = $3, email = $4,"
        " password_hash = '!', full_name = '', bio = '', avatar_media_id = NULL,"
        " is_moderator = false",
        [AccountStatus.DELETED.value, f"deleted_{user_id}", f"{user_id}@deleted.invalid"],
    )


async def expired_deactivations(*, now: datetime | None = None) -> list[int]:
    """Accounts deactivated longer ago than the window: they are deleted, as if asked."""
    cutoff = (now or datetime.now(UTC)) - REACTIVATION_WINDOW
    rows = await connections.get("default").execute_query_dict(
        "/* users.expired_deactivations */ SELECT id FROM users WHERE status = $1"
        " AND status_changed_at < $2 LIMIT 1000",
        [AccountStatus.DEACTIVATED.value, cutoff],
    )
    return [int(r["id"]) for r in rows]
