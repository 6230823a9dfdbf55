"""Access tokens (short-lived JWTs) and rotating refresh tokens (opaque, stored hashed).

A refresh token is good for one use: using it returns a new pair and retires it. Presenting a
retired token again means it was copied, so the whole family (every token descended from that
login) is revoked and the user must sign in again (OAuth 2.0 Security BCP, refresh token
rotation).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain.cache import remember
from domain.errors import DomainError, ErrorCode
from domain.ids import next_id
from domain.users.models import AccountStatus, RefreshToken
from domain.users.store import UserStore, UserView

ALGORITHM = "HS256"
ISSUER = "shutter"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    user_id: int


def create_access_token(*, user_id: int, secret: str, ttl_seconds: int, epoch: int = 0) -> str:
    """`epoch` is the user's token epoch now (users.token_epoch): the token is good while the
    user's epoch has not moved on."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "iss": ISSUER,
        "typ": "access",
        "iat": now,
        "exp": now + ttl_seconds,
        "ep": epoch,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


# Access tokens verified lately: (secret, token) -> (user id, expiry). A client sends the same
# token with every request for its whole life, and checking an HMAC signature with PyJWT costs
# more than the rest of the auth step; a token is stateless, so once verified it stays valid
# until it expires, which is still checked on every use.
_VERIFIED: dict[tuple[str, str], tuple[int, int, int]] = {}
_VERIFIED_MAX = 50_000


def decode_access_token(token: str, *, secret: str) -> tuple[int, int]:
    """(the user id an access token was issued to, the token epoch it was issued in);
    DomainError(INVALID_TOKEN) otherwise. Whether the epoch is still the user's is
    `authenticate`'s to check."""
    known = _VERIFIED.get((secret, token))
    if known is not None:
        user_id, epoch, expires = known
        if expires > time.time():
            return user_id, epoch
        del _VERIFIED[(secret, token)]
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise DomainError(
            ErrorCode.INVALID_TOKEN,
            "The access token has expired; get a new one with refreshToken.",
        ) from None
    except jwt.InvalidTokenError:
        raise DomainError(ErrorCode.INVALID_TOKEN, "The access token is not valid.") from None
    epoch = claims.get("ep", 0)
    if (
        claims.get("typ") != "access"
        or not str(claims["sub"]).isdigit()
        or not isinstance(epoch, int)
    ):
        raise DomainError(ErrorCode.INVALID_TOKEN, "The access token is not valid.")
    user_id = int(claims["sub"])
    remember(_VERIFIED, (secret, token), (user_id, epoch, int(claims["exp"])), limit=_VERIFIED_MAX)
    return user_id, epoch


SESSION_ENDED = (
    "This session has ended (the password was changed, or the account is no longer active);"
    " sign in again."
)


async def authenticate(token: str, *, secret: str, users: UserStore) -> UserView:
    """The signed-in user of an access token, checked against the user as cached now: a
    token of an account that is gone, or issued before its epoch moved on (a password change
    or deactivation), stops working at once, not when it expires."""
    user_id, epoch = decode_access_token(token, secret=secret)
    view = await users.get(user_id)
    if view is None or view.token_epoch != epoch:
        raise DomainError(ErrorCode.INVALID_TOKEN, SESSION_ENDED)
    return view


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _epoch(conn: BaseDBAsyncClient, user_id: int) -> int | None:
    """The user's token epoch, if the account is active."""
    rows = await conn.execute_query_dict(
        "/* users.token_epoch */ SELECT token_epoch FROM users WHERE id = $1 AND status = $2",
        [user_id, AccountStatus.ACTIVE.value],
    )
    return int(rows[0]["token_epoch"]) if rows else None


async def issue_tokens(
    *, user_id: int, secret: str, access_ttl: int, refresh_ttl: int, family_id: int | None = None
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    await RefreshToken.create(
        user_id=user_id,
        family_id=family_id or next_id(),
        token_hash=_digest(refresh),
        expires_at=datetime.now(UTC) + timedelta(seconds=refresh_ttl),
    )
    epoch = await _epoch(connections.get("default"), user_id)
    access = create_access_token(
        user_id=user_id, secret=secret, ttl_seconds=access_ttl, epoch=epoch or 0
    )
    return TokenPair(access, refresh, user_id)


async def rotate_refresh_token(
    *, refresh_token: str, secret: str, access_ttl: int, refresh_ttl: int
) -> TokenPair:
    invalid = DomainError(
        ErrorCode.INVALID_TOKEN,
        "The refresh token is not valid or has expired; sign in again.",
        field="refreshToken",
    )
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        row = (
            await RefreshToken.filter(token_hash=_digest(refresh_token))
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise invalid
        epoch = await _epoch(conn, row.user_id)  # type: ignore[attr-defined]
        if epoch is None:
            raise invalid  # the account is no longer active
        if row.used_at is not None:
            # Reuse of a retired token: someone else holds a copy. Revoke the family.
            await (
                RefreshToken.filter(family_id=row.family_id, revoked_at=None)
                .using_db(conn)
                .update(revoked_at=now)
            )
            reused = True
        else:
            row.used_at = now
            await row.save(using_db=conn, update_fields=["used_at"])
            new = secrets.token_urlsafe(32)
            await RefreshToken.create(
                using_db=conn,
                user_id=row.user_id,  # type: ignore[attr-defined]
                family_id=row.family_id,
                token_hash=_digest(new),
                expires_at=now + timedelta(seconds=refresh_ttl),
            )
            reused = False
    if reused:
        raise invalid
    access = create_access_token(
        user_id=row.user_id,  # type: ignore[attr-defined]
        secret=secret,
        ttl_seconds=access_ttl,
        epoch=epoch,
    )
    return TokenPair(access, new, row.user_id)  # type: ignore[attr-defined]


async def revoke_all(conn: BaseDBAsyncClient, user_id: int) -> None:
    """Revoke every refresh token family of the user (in the caller's transaction)."""
    await conn.execute_query(
        "/* tokens.revoke_all */ UPDATE refresh_tokens SET revoked_at = now()"
        " WHERE user_id = $1 AND revoked_at IS NULL",
        [user_id],
    )


async def revoke_refresh_token(*, refresh_token: str) -> bool:
    """Sign out: revoke the token's whole family. True when there was something to revoke."""
    row = await RefreshToken.filter(token_hash=_digest(refresh_token)).first()
    if row is None:
        return False
    updated = await RefreshToken.filter(family_id=row.family_id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )
    return bool(updated)
