"""Errors the business rules raise; the GraphQL layer turns them into typed user errors."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_ID = "INVALID_ID"
    INVALID_CURSOR = "INVALID_CURSOR"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    USERNAME_TAKEN = "USERNAME_TAKEN"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"
    CANNOT_FOLLOW_SELF = "CANNOT_FOLLOW_SELF"
    CANNOT_BLOCK_SELF = "CANNOT_BLOCK_SELF"
    BLOCKED = "BLOCKED"
    # A store Shutter needs (Redis, Postgres) is unreachable or slow right now: retry shortly.
    UNAVAILABLE = "UNAVAILABLE"


class DomainError(Exception):
    """A request the rules refuse. `field` names the input field at fault, if one is."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class ValidationErrors(DomainError):
    """Several input problems reported together, so a form can show them all at once."""

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__(errors[0].code, errors[0].message, field=errors[0].field)
        self.errors = errors


def not_found(what: str, *, field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"No {what} with this id.", field=field)
