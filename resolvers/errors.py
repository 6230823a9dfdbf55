"""GraphQL errors meant for the client; anything else is masked before it leaves the server."""

from __future__ import annotations

from graphql import GraphQLError

from domain.errors import ErrorCode


class ClientError(GraphQLError):
    """A bad argument, a missing sign-in: the message is safe and useful to show. Its code is
    one of ErrorCode's, as in mutation payloads."""

    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.INVALID_INPUT) -> None:
        super().__init__(message, extensions={"code": code.value})


def should_mask(error: GraphQLError) -> bool:
    """Mask what a resolver raised by mistake; keep what speaks of the client's own request:
    a ClientError, and graphql-core's coercion errors (a variable of a wrong value, say: the
    GraphQLError it raised is the original of the one it reports)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)
