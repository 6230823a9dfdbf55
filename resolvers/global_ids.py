"""Opaque global ids (`base64("User:123")`) and the keyset cursors of connections."""

from __future__ import annotations

import base64
import binascii
import math

from domain.errors import DomainError, ErrorCode
from domain.ids import parse_id
from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from resolvers.errors import ClientError


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(value: str) -> str:
    try:
        return base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(value) from None


def to_global_id(type_name: str, raw_id: int) -> str:
    return _encode(f"{type_name}:{raw_id}")


def parse_global_id(global_id: str) -> tuple[str, int]:
    """(type name, raw id); ValueError for anything that is not one of our ids."""
    type_name, sep, raw = _decode(global_id).partition(":")
    number = parse_id(raw)
    if not sep or not type_name.isascii() or not type_name.isalpha() or number is None:
        raise ValueError(global_id)
    return type_name, number


def id_argument(global_id: str, expected: str, *, argument: str = "id") -> int:
    """A query argument's raw id, or a GraphQL error saying what was wrong."""
    try:
        type_name, raw_id = parse_global_id(global_id)
    except ValueError:
        raise ClientError(f"'{argument}' is not a valid id.", code=ErrorCode.INVALID_ID) from None
    if type_name != expected:
        raise ClientError(f"'{argument}' is not the id of a {expected}.", code=ErrorCode.INVALID_ID)
    return raw_id


def id_input(global_id: str, expected: str, *, field: str) -> int:
    """A mutation input's raw id, or a typed INVALID_ID error for the payload."""
    try:
        type_name, raw_id = parse_global_id(global_id)
    except ValueError:
        raise DomainError(
            ErrorCode.INVALID_ID, f"'{field}' is not a valid id.", field=field
        ) from None
    if type_name != expected:
        raise DomainError(
            ErrorCode.INVALID_ID, f"'{field}' is not the id of a {expected}.", field=field
        )
    return raw_id


def to_cursor(position: int) -> str:
    return _encode(f"c:{position}")


def page_arguments(first: int | None, after: str | None) -> tuple[int, int | None]:
    """Checked `first` and the position inside `after`, or a GraphQL error."""
    limit = _checked_first(first)
    return limit, None if after is None else _plain_position(_decode_safely(after))


def both_ways_arguments(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> tuple[int, int | None, bool]:
    """(page size, cursor position, backward?) of a list that pages both ways: `first`/`after`
    forward, or `last`/`before` backward (the entries just before `before`), not both."""
    if last is None and before is None:
        limit, position = page_arguments(first, after)
        return limit, position, False
    if first is not None or after is not None:
        raise ClientError("Page one way at a time: 'first'/'after' or 'last'/'before'.")
    limit = _checked_first(last, name="last")
    return limit, None if before is None else _plain_position(_decode_safely(before)), True


def to_ranked_cursor(score: float, position: int) -> str:
    """A cursor in a list ordered by score, then position (the ranked feed)."""
    return _encode(f"r:{score!r}:{position}")


def ranked_page_arguments(
    first: int | None, after: str | None
) -> tuple[int, tuple[float | None, int] | None]:
    """Like page_arguments, for a list whose cursors may also be ranked ones: the position
    inside `after` as (score or None, position)."""
    limit = _checked_first(first)
    if after is None:
        return limit, None
    text = _decode_safely(after)
    if not text.startswith("r:"):
        return limit, (None, _plain_position(text))
    parts = text.split(":")
    if len(parts) != 3:
        raise _not_a_cursor()
    try:
        score = float(parts[1])
    except ValueError:
        raise _not_a_cursor() from None
    if not math.isfinite(score):
        raise _not_a_cursor()
    return limit, (score, _position(parts[2]))


def page_argument_error(name: str, value: object) -> ClientError | None:
    """What is wrong with the value of one page argument (`first`, `last`, `after`, `before`),
    told before the query runs (schema/cost), so that a bad page on a nested list is an error
    of the request rather than a null in place of the object holding the list."""
    try:
        if name in ("first", "last"):
            if isinstance(value, int) and not isinstance(value, bool):
                _checked_first(value, name=name)
        elif isinstance(value, str):
            ranked_page_arguments(None, value)
    except ClientError as error:
        if (
            name == "before"
            and (error.extensions or {}).get("code") == ErrorCode.INVALID_CURSOR.value
        ):
            return ClientError(
                "'before' is not a cursor from this list.", code=ErrorCode.INVALID_CURSOR
            )
        return error
    return None


def _checked_first(first: int | None, *, name: str = "first") -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise ClientError(f"'{name}' must be between 0 and {MAX_PAGE_SIZE}; got {first}.")
    return first


def _plain_position(text: str) -> int:
    """The position in a decoded plain cursor ("c:<position>")."""
    tag, _, raw = text.partition(":")
    if tag != "c":
        raise _not_a_cursor()
    return _position(raw)


def _position(raw: str) -> int:
    number = parse_id(raw)
    if number is None:
        raise _not_a_cursor()
    return number


def _not_a_cursor() -> ClientError:
    return ClientError("'after' is not a cursor from this list.", code=ErrorCode.INVALID_CURSOR)


def _decode_safely(value: str) -> str:
    try:
        return _decode(value)
    except ValueError:
        return ""
