"""A shorter path through graphql-core and Strawberry for the commonest kinds of field.

For every field, graphql-core builds a resolve info, looks for arguments, calls the resolver and
completes the value through the non-null, list, leaf, abstract and object cases in turn; for a
field with a resolver, Strawberry then builds its own Info and converts every argument through
a chain of type checks. A feed page is mostly fields for which all that does nothing:

- plain attributes holding a scalar or enum (ids, captions, counts, usernames, cursors): read
  the attribute and coerce it;
- plain attributes holding objects or lists of them (edges, nodes, authors, media): read the
  attribute and complete it as graphql-core does, without the resolver chain around `getattr`;
- resolvers whose arguments are scalars or enums (`Media.url(width:, format:)`, the feed),
  for which Strawberry's conversion returns graphql-core's values as they are: call the
  resolver with them, and complete its result as graphql-core does.

Anything unusual goes through graphql-core's own steps: a null, an exception or a value the
scalar rejects is completed (or reported) by graphql-core exactly as before. Every field takes
the usual path while a schema extension watches each resolver (graphql-core middleware), and
fields with field extensions (permissions and the like) always do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, Generic, TypeVar

from graphql import (
    ExecutionResult,
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLStreamDirective,
    Undefined,
    VariableNode,
)
from graphql.execution.collect_fields import FieldDetails, FieldDetailsList, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.language import FieldNode
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField

from domain.cache import remember

_PLAIN_ARGUMENTS = (int, str, float, bool)


@dataclass(frozen=True, slots=True)
class Attribute:
    """A plain attribute of a scalar or enum type."""

    read: Callable[[Any], Any]
    coerce: Callable[[Any], Any]
    nullable: bool


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

_UNPLANNED = object()
_USUAL_PATH = object()  # what _attribute_value returns when graphql-core must see to it


def _plans_of(parent_type: GraphQLObjectType) -> dict[str, Plan | None]:
    plans: dict[str, Plan | None] | None = parent_type.extensions.get(PLANS)
    if plans is None:
        plans = parent_type.extensions[PLANS] = {}
    return plans


def _attribute_value(plan: Attribute, source: Any) -> Any:
    """The attribute, coerced; _USUAL_PATH for anything graphql-core must report on (a null
    where none may be, an exception, a value the scalar rejects)."""
    try:
        value = plan.read(source)
        if value is None:
            return None if plan.nullable else _USUAL_PATH
        if not isinstance(value, Exception):
            coerced = plan.coerce(value)
            if coerced is not None and coerced is not Undefined:
                return coerced
    except Exception:  # noqa: S110 - graphql-core's path reports it
        pass
    return _USUAL_PATH


async def _gather_fields(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """graphql-core's ending of execute_fields: await the fields that are awaitable."""
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await results[field]
    else:
        awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results


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


# Argument values of fields whose arguments are literals, by field node.
LITERAL_ARGUMENTS = 10_000
_literal_arguments = ByIdentity[FieldNode, dict[str, Any]](LITERAL_ARGUMENTS)


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


def _plan(field_def: GraphQLField) -> Plan | None:
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

        def read(source: Any) -> Any:
            return default_resolver(source, name)

        if is_leaf:
            return Attribute(read, named.coerce_output_value, nullable)  # type: ignore[union-attr]
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


class ShortPathContext(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            return self._release_after(result)
        self._release(result)
        return result

    async def _release_after(self, result: Awaitable[Any]) -> Any:
        done = await result
        self._release(done)
        return done

    def _release(self, result: Any) -> None:
        """graphql-core's executor holds its resolve-info helpers, which hold methods of the
        executor: a reference cycle that leaves each request's execution state to the cyclic
        collector (in batches of a few hundred requests, pausing the process tens of ms). Once
        a plain result is out, nothing uses them: break the cycle. (An incremental result
        goes on using its executor and keeps them.)"""
        if isinstance(result, ExecutionResult):
            del self.async_helpers

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields, answering plain scalar attributes in the loop itself
        (no path, no call per field); every other field goes to execute_field as before."""
        if not self._short:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        plans = _plans_of(parent_type)
        try:
            for response_name, field_details_list in grouped_field_set.items():
                plan = plans.get(field_details_list[0].node.name.value)
                if type(plan) is Attribute:
                    value = _attribute_value(plan, source_value)
                    if value is not _USUAL_PATH:
                        results[response_name] = value
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gather_fields(results, awaitable_fields)

    def get_stream_usage(self, field_details_list: FieldDetailsList, path: Path) -> Any:
        """No list can be streamed where the schema has no @stream (validation refuses the
        directive then): skip graphql-core's look for it on every list field."""
        if not self._streams:
            return None
        return super().get_stream_usage(field_details_list, path)

    @cached_property
    def _streams(self) -> bool:
        return self.schema.get_directive(GraphQLStreamDirective.name) is not None

    @cached_property
    def _short(self) -> bool:
        """Whether the short paths may be taken: not while middleware watches each field."""
        manager = self.middleware_manager
        return manager is None or not manager.middlewares

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        if self._short:
            plan = _plans_of(parent_type).get(field_details_list[0].node.name.value, _UNPLANNED)
            if plan is _UNPLANNED:
                plan = self._make_plan(parent_type, field_details_list[0].node.name.value)
            if type(plan) is Attribute:
                value = _attribute_value(plan, source)
                if value is not _USUAL_PATH:
                    return value
            elif type(plan) is ObjectAttribute:
                read = plan.read
                return self._resolve(
                    plan.field_def,
                    None,
                    lambda _: read(source),
                    parent_type,
                    field_details_list,
                    path,
                    position_context,
                )
            elif type(plan) is Resolver:
                return self._resolve(
                    plan.field_def,
                    plan.coerce,
                    partial(self._call, plan, source, field_details_list[0]),
                    parent_type,
                    field_details_list,
                    path,
                    position_context,
                )
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _make_plan(self, parent_type: GraphQLObjectType, name: str) -> Plan | None:
        field_def = self.schema.get_field(parent_type, name)
        plan = _plans_of(parent_type)[name] = _plan(field_def) if field_def else None
        return plan

    def _argument_values(self, field_def: GraphQLField, details: FieldDetails) -> dict[str, Any]:
        """graphql-core's argument values of the field; for a field whose arguments are all
        written out in the (parsed once, cached) document, the ones worked out last time."""
        node = details.node
        if details.fragment_variable_values is not None or any(
            isinstance(argument.value, VariableNode) for argument in node.arguments or ()
        ):
            return get_argument_values(
                field_def,
                node,
                self.variable_values,
                details.fragment_variable_values,
                self.hide_suggestions,
            )
        known = _literal_arguments.get(node)
        if known is not None:
            return dict(known)
        values = get_argument_values(
            field_def, node, self.variable_values, None, self.hide_suggestions
        )
        _literal_arguments.put(node, dict(values))
        return values

    async def _settle(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def _call(
        self, plan: Resolver, source: Any, details: FieldDetails, info: GraphQLResolveInfo
    ) -> Any:
        """Call the resolver as Strawberry would, with graphql-core's argument values."""
        values = self._argument_values(plan.field_def, details)
        kwargs = {py: values[gql] for gql, py in plan.names if gql in values}
        if plan.info_parameter:
            kwargs[plan.info_parameter] = Info(_raw_info=info, _field=plan.definition)
        return plan.call(source, **kwargs) if plan.takes_self else plan.call(**kwargs)

    def _resolve(
        self,
        field_def: GraphQLField,
        coerce: Callable[[Any], Any] | None,
        produce: Callable[[GraphQLResolveInfo], Any],
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_field for a field without middleware, `produce` standing for
        its resolver; with `coerce`, a scalar or enum value is coerced directly."""
        return_type = field_def.type
        nodes = [details.node for details in field_details_list]
        info = self.build_resolve_info(field_def, nodes, parent_type, path)
        try:
            result = produce(info)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            if coerce is not None and result is not None and not isinstance(result, Exception):
                coerced = coerce(result)
                if coerced is not None and coerced is not Undefined:
                    return coerced
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
            if self.is_awaitable(completed):
                return self._settle(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed
