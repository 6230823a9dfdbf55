"""Accounts: register, sign in, profile changes."""

from __future__ import annotations

import re

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.errors import DomainError, ErrorCode, ValidationErrors
from domain.media.models import Media, MediaKind, MediaStatus
from domain.users import passwords
from domain.users.models import User
from domain.users.store import UserStore

USERNAME_RE = re.compile(r"^[a-z0-9._]{1,30}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
EMAIL_MAX = 254
FULL_NAME_MAX = 64
BIO_MAX = 150


def normalize_username(raw: str) -> str:
    return raw.strip().lower()


def validate_username(username: str) -> DomainError | None:
    if not USERNAME_RE.fullmatch(username):
        return DomainError(
            ErrorCode.INVALID_INPUT,
            "Usernames are 1 to 30 characters: letters, digits, '.' and '_'.",
            field="username",
        )
    if username.startswith(".") or username.endswith(".") or ".." in username:
        return DomainError(
            ErrorCode.INVALID_INPUT,
            "A username cannot start or end with '.', or have two in a row.",
            field="username",
        )
    return None


async def register(*, username: str, email: str, password: str) -> User:
    username = normalize_username(username)
    email = email.strip().lower()
    problems = [p for p in (validate_username(username),) if p]
    if len(email) > EMAIL_MAX or not EMAIL_RE.fullmatch(email):
        problems.append(
            DomainError(ErrorCode.INVALID_INPUT, "Enter a valid email address.", field="email")
        )
    try:
        passwords.check_strength(password, username=username, email=email)
    except DomainError as exc:
        problems.append(exc)
    if problems:
        raise ValidationErrors(problems)
    if await User.filter(username=username).exists():
        raise _username_taken()
    if await User.filter(email=email).exists():
        raise _email_taken()
    password_hash = await passwords.hash_password(password)
    try:
        return await User.create(username=username, email=email, password_hash=password_hash)
    except IntegrityError as exc:  # lost a race with a concurrent registration
        if "email" in str(exc):
            raise _email_taken() from None
        raise _username_taken() from None


def _username_taken() -> DomainError:
    return DomainError(
        ErrorCode.USERNAME_TAKEN, "This username is taken; try another one.", field="username"
    )


def _email_taken() -> DomainError:
    return DomainError(
        ErrorCode.EMAIL_TAKEN, "An account with this email already exists.", field="email"
    )


async def authenticate(*, username_or_email: str, password: str) -> User:
    handle = username_or_email.strip().lower()
    if not handle or len(handle) > EMAIL_MAX:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"Enter your username or email (at most {EMAIL_MAX} characters).",
            field="usernameOrEmail",
        )
    if len(password) > passwords.MAX_LENGTH:  # no account has one this long: no hash to run
        raise DomainError(
            ErrorCode.INVALID_CREDENTIALS,
            "The username or password is not right.",
            field="password",
        )
    lookup = {"email": handle} if "@" in handle else {"username": handle}
    user = await User.filter(**lookup).first()
    if user is None:
        await passwords.verify_password(passwords.DUMMY_HASH, password)
        ok = False
    else:
        ok = await passwords.verify_password(user.password_hash, password)
    if not ok or user is None:
        raise _wrong_credentials()
    return user


def _wrong_credentials() -> DomainError:
    return DomainError(
        ErrorCode.INVALID_CREDENTIALS, "The username or password is not right.", field="password"
    )


async def update_profile(
    *,
    user_id: int,
    users: UserStore,
    full_name: str | None = None,
    bio: str | None = None,
    is_private: bool | None = None,
    avatar_media_id: int | None = None,
    remove_avatar: bool = False,
) -> list[int]:
    """Returns the ids of follow requests approved by going public (their feeds need them)."""
    changes: dict[str, object] = {}
    problems = []
    if full_name is not None:
        full_name = " ".join(full_name.split())
        if len(full_name) > FULL_NAME_MAX:
            problems.append(
                DomainError(
                    ErrorCode.INVALID_INPUT,
                    f"Use at most {FULL_NAME_MAX} characters for the name.",
                    field="fullName",
                )
            )
        changes["full_name"] = full_name
    if bio is not None:
        bio = bio.strip()
        if len(bio) > BIO_MAX:
            problems.append(
                DomainError(
                    ErrorCode.INVALID_INPUT,
                    f"Use at most {BIO_MAX} characters for the bio.",
                    field="bio",
                )
            )
        changes["bio"] = bio
    if is_private is not None:
        changes["is_private"] = is_private
    if remove_avatar:
        changes["avatar_media_id"] = None
    elif avatar_media_id is not None:
        ready = await Media.filter(
            id=avatar_media_id, owner_id=user_id, kind=MediaKind.IMAGE, status=MediaStatus.READY
        ).exists()
        if not ready:
            problems.append(
                DomainError(
                    ErrorCode.INVALID_INPUT,
                    "The avatar must be one of your photos, processed (READY).",
                    field="avatarMediaId",
                )
            )
        changes["avatar_media_id"] = avatar_media_id
    if problems:
        raise ValidationErrors(problems)
    if not changes:
        return []
    affected = [user_id]
    approved: list[int] = []
    async with in_transaction() as conn:
        await User.filter(id=user_id).using_db(conn).update(**changes)
        if is_private is False:
            # Going public settles every waiting request, as Instagram does.
            rows = await conn.execute_query_dict(
                "/* users.approve_all_requests */ UPDATE follows SET status = 'ACTIVE'"
                " WHERE followee_id = $1 AND status = 'PENDING' RETURNING follower_id",
                [user_id],
            )
            approved = [int(row["follower_id"]) for row in rows]
            if approved:
                await conn.execute_query(
                    "/* users.approve_all_counts */ UPDATE users SET following_count ="
                    " following_count + 1 WHERE id = ANY($1::bigint[])",
                    [approved],
                )
                await conn.execute_query(
                    "/* users.approve_all_counts */ UPDATE users SET follower_count ="
                    " follower_count + $2 WHERE id = $1",
                    [user_id, len(approved)],
                )
                affected.extend(approved)
    await users.invalidate(*affected)
    return approved
