"""Strings no field can take, refused before anything runs: text with a NUL character
(Postgres cannot store one, and no client means to send it) and text longer than any input
Shutter has (its longest, a caption, is a few thousand characters; the per-field bounds with
their own messages are the domain's).

Literals are checked once per document (with its validation); variables on every request.
"""

from __future__ import annotations

from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit

from domain.errors import ErrorCode

MAX_STRING_CHARS = 10_000


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return "Text may not contain NUL characters (\\u0000)."
    if len(text) > MAX_STRING_CHARS:
        return f"A string argument is longer than {MAX_STRING_CHARS} characters."
    return None


def _error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": ErrorCode.INVALID_INPUT.value})


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.problem: str | None = None

    def enter_string_value(self, node: StringValueNode, *_: object) -> object:
        self.problem = self.problem or _problem(node.value)
        return self.BREAK if self.problem else None


def literal_errors(document: DocumentNode) -> list[GraphQLError]:
    """The document's own strings, checked (once per document: the caller remembers)."""
    literals = _Literals()
    visit(document, literals)
    return [_error(literals.problem)] if literals.problem else []


def variable_errors(variables: object) -> list[GraphQLError]:
    """The request's variables, checked: every string, however deep."""
    pending = [variables]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            problem = _problem(value)
            if problem:
                return [_error(problem)]
        elif isinstance(value, dict):
            pending.extend(value.values())
            pending.extend(value.keys())
        elif isinstance(value, list):
            pending.extend(value)
    return []
