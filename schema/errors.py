"""Typed user errors for mutation payloads, the one way a mutation answers, and the GraphQL
errors clients may see.

Every mutation is declared with `mutation(summary, errors=...)`: its description ends with the
error codes it can return, and `respond` runs it. Outside production a refusal with a code the
mutation did not declare is a server error (logged), so the suite keeps the descriptions true.
Anything else that goes wrong is masked as "Unexpected error." (see `schema/root.py`), so no
internal text reaches a client.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import strawberry
from starlette.responses import Response

from domain.errors import DomainError, ValidationErrors
from domain.errors import ErrorCode as DomainErrorCode
from resolvers.context import Info

T = TypeVar("T")
P = TypeVar("P")

log = logging.getLogger(__name__)

# The domain's codes, exposed as the GraphQL enum ErrorCode.
strawberry.enum(DomainErrorCode, name="ErrorCode", description="Why a mutation was refused.")


@strawberry.type(description="Something wrong with the input; `field` names the input at fault.")
class UserError:
    field: str | None
    message: str
    code: DomainErrorCode
    retry_after_seconds: int | None = strawberry.field(
        default=None,
        description="RATE_LIMITED: when a retry can succeed (also the Retry-After header).",
    )


def user_errors(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, ValidationErrors) else [error]
    return [
        UserError(
            field=e.field,
            message=e.message,
            code=e.code,
            retry_after_seconds=getattr(e, "retry_after_seconds", None),
        )
        for e in errors
    ]


# The attribute of the HTTP sub-response counting the root fields refused as RATE_LIMITED.
RATE_LIMITED_FIELDS = "shutter_rate_limited_fields"

# Every mutation counts against the viewer's mutation rate limit.
ALWAYS = frozenset({DomainErrorCode.RATE_LIMITED})

# The codes each mutation declared, by its Python name (mutation names are unique in the schema).
DECLARED: dict[str, frozenset[DomainErrorCode]] = {}


def mutation(summary: str, *, errors: Iterable[DomainErrorCode]) -> Callable[[Any], Any]:
    """`strawberry.mutation` with `summary` and the error codes it can return as its
    description."""
    codes = ALWAYS | frozenset(errors)
    description = f"{summary} Error codes: {', '.join(sorted(codes))}."

    def declare(resolver: Any) -> Any:
        DECLARED[resolver.__name__] = codes
        return strawberry.mutation(resolver, description=description)

    return declare


class UndeclaredError(RuntimeError):
    """A mutation refused with a code its description does not list."""


async def respond(
    info: Info,
    payload: Callable[..., P],
    action: Callable[[], Awaitable[T]],
    fill: Callable[[T], P | Awaitable[P]],
) -> P:
    """Run a mutation: `action` under the viewer's mutation rate limit, its result made into
    the payload by `fill`; a refusal is `payload(errors=...)`."""
    try:
        await info.context.count_mutation()
        result = await action()
    except DomainError as error:
        errors = user_errors(error)
        _check_declared(info, errors)
        wait = max((e.retry_after_seconds or 0 for e in errors), default=0)
        response = info.context.response
        if wait and isinstance(response, Response):  # over HTTP (not a WebSocket)
            response.headers["Retry-After"] = str(wait)
            # When every root field of the request was refused so, it is a 429 (graphql_view).
            refused = getattr(response, RATE_LIMITED_FIELDS, 0) + 1
            setattr(response, RATE_LIMITED_FIELDS, refused)
        return payload(errors=errors)
    viewer = info.context.viewer_id
    if viewer is not None:  # read before the write (by the auth step): the payload reads it anew
        info.context.loaders.forget(viewer)
    made = fill(result)
    return await made if inspect.isawaitable(made) else made


def _check_declared(info: Info, errors: list[UserError]) -> None:
    declared = DECLARED.get(info.python_name, frozenset())
    undeclared = sorted({e.code for e in errors} - declared)
    if not undeclared:
        return
    message = f"{info.field_name} returned {', '.join(undeclared)}, not in its description"
    if info.context.runtime.settings.environment == "production":
        log.warning(message)
        return
    raise UndeclaredError(message)
