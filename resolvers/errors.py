"""GraphQL errors meant for the client; anything else is masked before it leaves the server."""

from __future__ import annotations

from graphql import GraphQLError


class ClientError(GraphQLError):
    """A bad argument, a missing sign-in: the message is safe and useful to show."""

    def __init__(self, message: str, *, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message, extensions={"code": code})


def should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, ClientError)
