"""Plans for the commonest kinds of field, made once per field of the schema and kept in its
object type's extensions: what the short path through execution (execution.py) and compiled
queries (compiled.py) do instead of graphql-core's and Strawberry's general steps.

- `Attribute`: a plain attribute holding a scalar or enum (ids, captions, counts, usernames,
  cursors): read the attribute and coerce it;
- `ObjectAttribute`: a plain attribute holding objects or lists of them (edges, nodes, authors,
  media): read the attribute, without the resolver chain around `getattr`;
- `Resolver`: a resolver whose arguments are scalars or enums (`Media.url(width:, format:)`, the
  feed), for which Strawberry's conversion returns graphql-core's values as they are: call the
  resolver with them.

Fields with field extensions (permissions and the like) get no plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar

import strawberry
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField

from domain.cache import remember

# Argument types Strawberry passes on as graphql-core gives them (leaf scalars but GlobalID).
_PLAIN_ARGUMENTS = (int, str, float, bool, strawberry.ID)


@dataclass(frozen=True, slots=True)
class Attribute:
    """A plain attribute of a scalar or enum type."""

    read: Callable[[Any], Any]
    coerce: Callable[[Any], Any]
    nullable: bool
    as_is: type | None  # values of this exact type are their own output (see output_as_is)


@dataclass(frozen=True, slots=True)
class ObjectAttribute:
    """A plain attribute of any other type (objects, lists)."""

    read: Callable[[Any], Any]
    field_def: GraphQLField


@dataclass(frozen=True, slots=True)
class Resolver:
    """A resolver whose arguments need no conversion (`coerce` for a scalar or enum type)."""

    call: Callable[..., Any]
    takes_self: bool
    info_parameter: str | None
    names: tuple[tuple[str, str], ...]  # (GraphQL name, Python name) of each argument
    coerce: Callable[[Any], Any] | None
    definition: StrawberryField
    field_def: GraphQLField


Plan = Attribute | ObjectAttribute | Resolver

# Each object type keeps its fields' plans (None where there is none) in its extensions.
PLANS = "shutter-plans"

UNPLANNED = object()
USUAL_PATH = object()  # what attribute_value returns when graphql-core must see to it


def plans_of(parent_type: GraphQLObjectType) -> dict[str, Plan | None]:
    plans: dict[str, Plan | None] | None = parent_type.extensions.get(PLANS)
    if plans is None:
        plans = parent_type.extensions[PLANS] = {}
    return plans


def output_as_is(type_: GraphQLScalarType | GraphQLEnumType) -> type | None:
    """The Python type whose values this scalar outputs unchanged, if any: a str for String
    and ID, a bool for Boolean (graphql-core's coercion checks and returns them as they are;
    ints and floats are range-checked, so they go through it)."""
    if type_ is GraphQLString or type_ is GraphQLID:
        return str
    if type_ is GraphQLBoolean:
        return bool
    return None


def attribute_value(plan: Attribute, source: Any) -> Any:
    """The attribute, coerced; USUAL_PATH for anything graphql-core must report on (a null
    where none may be, an exception, a value the scalar rejects)."""
    try:
        value = plan.read(source)
        if type(value) is plan.as_is:
            return value
        if value is None:
            return None if plan.nullable else USUAL_PATH
        if not isinstance(value, Exception):
            coerced = plan.coerce(value)
            if coerced is not None and coerced is not Undefined:
                return coerced
    except Exception:  # noqa: S110 - graphql-core's path reports it
        pass
    return USUAL_PATH


Obj = TypeVar("Obj")
W = TypeVar("W")


class ByIdentity(Generic[Obj, W]):
    """Values by the identity of an object that comes back request after request (a document
    from the parser cache, its nodes), at most `limit` of them. Each object is kept with its
    value, so its id cannot be another object's meanwhile."""

    def __init__(self, limit: int) -> None:
        self._memo: dict[int, tuple[Obj, W]] = {}
        self._limit = limit

    def get(self, obj: Obj) -> W | None:
        known = self._memo.get(id(obj))
        return known[1] if known is not None and known[0] is obj else None

    def put(self, obj: Obj, value: W) -> None:
        remember(self._memo, id(obj), (obj, value), limit=self._limit)


def _passes_through(type_: object) -> bool:
    """Whether Strawberry's conversion of an argument of this type returns its value as is."""
    if isinstance(type_, StrawberryMaybe):
        return False
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return (
        type_ in _PLAIN_ARGUMENTS
        or isinstance(type_, StrawberryEnumDefinition)
        or has_enum_definition(type_)
    )


def make_plan(field_def: GraphQLField) -> Plan | None:
    definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or definition.extensions:
        return None
    nullable = not isinstance(field_def.type, GraphQLNonNull)
    named = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
    is_leaf = isinstance(named, GraphQLScalarType | GraphQLEnumType)
    resolver = definition.base_resolver
    if resolver is None:
        if field_def.args or not getattr(field_def.resolve, "_is_default", False):
            return None
        default_resolver, name = definition.default_resolver, definition.python_name
        read: Callable[[Any], Any]
        if default_resolver is getattr:
            read = attrgetter(name)
        else:

            def read(source: Any) -> Any:
                return default_resolver(source, name)

        if is_leaf:
            return Attribute(
                read,
                named.coerce_output_value,  # type: ignore[union-attr]
                nullable,
                output_as_is(named),  # type: ignore[arg-type]
            )
        return ObjectAttribute(read, field_def)
    call = resolver.wrapped_func
    if (
        definition.is_subscription
        or isinstance(call, staticmethod | classmethod)
        or resolver.parent_parameter
        or resolver.root_parameter
        or not all(_passes_through(argument.type) for argument in definition.arguments)
        or len(field_def.args) != len(definition.arguments)
    ):
        return None
    return Resolver(
        call=call,
        takes_self=resolver.self_parameter is not None,
        info_parameter=resolver.info_parameter.name if resolver.info_parameter else None,
        # Strawberry makes the GraphQL arguments from the resolver's, in their order.
        names=tuple(
            (graphql_name, argument.python_name)
            for graphql_name, argument in zip(field_def.args, definition.arguments, strict=True)
        ),
        coerce=named.coerce_output_value if is_leaf else None,  # type: ignore[union-attr]
        definition=definition,
        field_def=field_def,
    )


def plan(schema: GraphQLSchema, parent_type: GraphQLObjectType, name: str) -> Plan | None:
    """The plan of the field `name` of `parent_type`, made on first use."""
    plans = plans_of(parent_type)
    found = plans.get(name, UNPLANNED)
    if found is UNPLANNED:
        field_def = schema.get_field(parent_type, name)
        found = plans[name] = make_plan(field_def) if field_def else None
    return found  # type: ignore[return-value]
