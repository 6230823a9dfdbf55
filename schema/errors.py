"""Typed user errors for mutation payloads, and the GraphQL errors clients may see.

Anything else that goes wrong is masked as "Unexpected error." (see `schema/root.py`), so no
internal text reaches a client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from domain.errors import DomainError, ValidationErrors
from domain.errors import ErrorCode as DomainErrorCode
from resolvers.context import Info

T = TypeVar("T")

# The domain's codes, exposed as the GraphQL enum ErrorCode.
strawberry.enum(DomainErrorCode, name="ErrorCode", description="Why a mutation was refused.")


@strawberry.type(description="Something wrong with the input; `field` names the input at fault.")
class UserError:
    field: str | None
    message: str
    code: DomainErrorCode


def user_errors(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, ValidationErrors) else [error]
    return [UserError(field=e.field, message=e.message, code=e.code) for e in errors]


async def guarded(info: Info, action: Callable[[], Awaitable[T]]) -> T | list[UserError]:
    """Run a mutation's action under the viewer's rate limit; a refusal becomes user errors."""
    try:
        await info.context.count_mutation()
        return await action()
    except DomainError as error:
        return user_errors(error)
