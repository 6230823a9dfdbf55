"""Password rules and argon2id hashing."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from domain.errors import DomainError, ErrorCode

MIN_LENGTH = 8
MAX_LENGTH = 128
# The most common passwords of public breach lists; a full list belongs in a later change.
_COMMON = frozenset(
    [
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "qwerty123",
        "11111111",
        "iloveyou",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "welcome1",
        "admin123",
        "letmein1",
        "abc12345",
        "trustno1",
        "monkey123",
        "dragon123",
        "starwars",
        "00000000",
        "87654321",
        "passw0rd",
    ]
)

_hasher = PasswordHasher()


def check_strength(password: str, *, username: str = "", email: str = "") -> None:
    def weak(message: str) -> DomainError:
        return DomainError(ErrorCode.WEAK_PASSWORD, message, field="password")

    if len(password) < MIN_LENGTH:
        raise weak(f"Use at least {MIN_LENGTH} characters for the password.")
    if len(password) > MAX_LENGTH:
        raise weak(f"Use at most {MAX_LENGTH} characters for the password.")
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) < 4:
        raise weak("This password is too easy to guess; choose a less common one.")
    # Short names ("bo") occur inside ordinary passwords by chance; only longer ones count.
    if len(username) >= 4 and username.lower() in lowered:
        raise weak("The password must not contain the username.")
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        raise weak("The password must not contain the email address.")


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow (~50 ms): keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


# Verified against when the account does not exist, so that a wrong username costs the same
# time as a wrong password and timing does not reveal which accounts exist.
DUMMY_HASH = _hasher.hash("shutter-timing-equaliser")
