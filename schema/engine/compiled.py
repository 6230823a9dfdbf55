"""Compiled queries: a query whose every field has a plan (schema/engine/plans.py) runs as a tree of
steps worked out once per cached document, instead of through graphql-core's general executor.

graphql-core works each field out anew on every request: it builds a path and a resolve info,
looks for middleware and arguments, calls the resolver, and completes the value by testing for
non-null, list, leaf, abstract and object types in turn, collecting every object's subfields
again. For a feed page that is some 120 fields, and it was most of a request's CPU. Compiled,
the same page reads each attribute, calls the few resolvers, and coerces the leaves, as the
steps made from the document say.

Only the regular case is compiled; everything else stays graphql-core's:

- not compiled: mutations and subscriptions, documents with directives (@skip, @include,
  @defer: their fields depend on variables), abstract types (interfaces and unions),
  introspection, fields without a plan, and object types with an is_type_of of their own;
- given up at run time: a null where the type allows none, an exception (raised or returned),
  a value a scalar rejects, a list that is not a list or tuple, an object of the wrong type.
  The query then runs through graphql-core's own steps, which report it as they always have,
  but no resolver is called twice: every value a resolver gave the compiled run (or the
  exception it raised) is remembered by its source object and field node (`Resolved`), and
  the usual steps take it from there instead of calling the resolver again. A resolver may
  write (the feed claims rankings and rebuilds feeds), so this matters.

Awaitable values are gathered breadth-first: every awaitable of one level is awaited together,
so data loaders batch at least as well as under graphql-core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    Node,
    OperationDefinitionNode,
    Undefined,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FieldDetailsList,
    GroupedFieldSet,
    collect_subfields,
)
from graphql.pyutils import Path

from schema.engine.plans import (
    USUAL_PATH,
    Attribute,
    ByIdentity,
    ObjectAttribute,
    Plan,
    Resolver,
    attribute_value,
    output_as_is,
    plan,
)

if TYPE_CHECKING:
    from schema.engine.execution import ShortPathContext


class GiveUp(Exception):
    """An irregular value: the query goes on through graphql-core's own steps."""


@dataclass(slots=True)
class Raised:
    """What a resolver raised, to be raised again where graphql-core's steps ask for it."""

    error: BaseException


@dataclass(slots=True)
class Resolved:
    """What one resolver call of a compiled run gave: the value (an awaitable until it is
    awaited, a `Raised` if it failed), kept with its source so that the id stays valid.
    `awaited` says that the call gave an awaitable whose outcome is now the value: it is
    handed back as an awaitable again, so that graphql-core completes it as it would have."""

    source: Any
    value: Any
    awaited: bool = False

    def produce(self, _info: Any) -> Any:
        if self.awaited:
            return self._again()
        value = self.value
        if type(value) is Raised:
            raise value.error
        return value

    async def _again(self) -> Any:
        value = self.value
        if type(value) is Raised:
            raise value.error
        return value


class Memo:
    """The resolver calls of a compiled run, by (source, field node), in call order: where a
    given-up run goes on through graphql-core, each field takes its value from here. A source
    met twice at one field node (the same object twice in a list) has one value per meeting,
    taken in the same order."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls: dict[tuple[int, int], list[Resolved]] = {}

    def add(self, source: Any, node: Any, value: Any) -> Resolved:
        resolved = Resolved(source, value)
        key = (id(source), id(node))
        known = self.calls.get(key)
        if known is None:
            self.calls[key] = [resolved]
        else:
            known.append(resolved)
        return resolved

    def take(self, source: Any, node: Any) -> Resolved | None:
        known = self.calls.get((id(source), id(node)))
        if not known:
            return None
        resolved = known.pop(0)
        assert resolved.source is source
        return resolved

    def close_untaken(self) -> None:
        """Close the coroutines that graphql-core's steps never came to (their parent was
        nulled by an error): nothing will await them."""
        for known in self.calls.values():
            for resolved in known:
                if asyncio.iscoroutine(resolved.value):
                    resolved.value.close()
        self.calls.clear()


@dataclass(frozen=True, slots=True)
class Leaf:
    coerce: Callable[[Any], Any]
    nullable: bool
    as_is: type | None


@dataclass(frozen=True, slots=True)
class Items:
    item: Completion
    nullable: bool
    paths: bool  # whether a resolver below takes an info, and so needs the path


@dataclass(frozen=True, slots=True)
class Objects:
    type_: GraphQLObjectType
    steps: tuple[Step, ...]
    nullable: bool
    is_type_of: Callable[[Any, Any], Any] | None
    paths: bool


Completion = Leaf | Items | Objects


@dataclass(frozen=True, slots=True)
class Step:
    """One response key of a selection set: its field's plan (None for __typename) and how
    the value is completed."""

    key: str
    plan: Plan | None
    details: FieldDetails
    nodes: list[Any]
    completion: Completion | None


@dataclass(slots=True)
class Pending:
    """An awaitable value, and where its completion goes (and, for a resolver's value, where
    it is remembered)."""

    awaitable: Any
    completion: Completion
    path: Path | None
    container: Any
    key: Any
    resolved: Resolved | None


COMPILED_OPERATIONS = 1_000
_compiled = ByIdentity[OperationDefinitionNode, tuple[GraphQLObjectType, "Objects | None"]](
    COMPILED_OPERATIONS
)


def _has_directives(node: Any) -> bool:
    """Whether a directive is written anywhere in this part of the document."""
    if isinstance(node, Node):
        if getattr(node, "directives", None):
            return True
        return any(_has_directives(getattr(node, key, None)) for key in node.keys)
    if isinstance(node, tuple | list):
        return any(_has_directives(item) for item in node)
    return False


def compiled(
    context: ShortPathContext, root_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
) -> Objects | None:
    """The compiled steps of this context's query, or None where it cannot be compiled."""
    operation = context.operation
    known = _compiled.get(operation)
    # The parser cache may hand the same document to another schema (tests build several).
    if known is not None and known[0] is root_type:
        return known[1]
    steps = None
    if not _has_directives(operation) and not any(
        _has_directives(fragment.definition) for fragment in context.fragments.values()
    ):
        steps = _Compiler(context).objects(root_type, grouped_field_set, nullable=False)
    _compiled.put(operation, (root_type, steps))
    return steps


class _Compiler:
    def __init__(self, context: ShortPathContext) -> None:
        self.context = context

    def objects(
        self, type_: GraphQLObjectType, grouped_field_set: GroupedFieldSet, *, nullable: bool
    ) -> Objects | None:
        is_type_of = type_.is_type_of
        if is_type_of is not None and not _generated_by_strawberry(is_type_of):
            return None
        steps = []
        for key, field_details_list in grouped_field_set.items():
            details = field_details_list[0]
            if details.fragment_variable_values is not None:
                return None
            name = details.node.name.value
            nodes = [each.node for each in field_details_list]
            if name == "__typename":
                steps.append(Step(key, None, details, nodes, None))
                continue
            if name.startswith("__"):
                return None  # introspection
            found = plan(self.context.schema, type_, name)
            if found is None:
                return None
            completion = None
            if not isinstance(found, Attribute):
                completion = self.completion(found.field_def.type, field_details_list)
                if completion is None:
                    return None
            steps.append(Step(key, found, details, nodes, completion))
        paths = any(
            (type(step.plan) is Resolver and step.plan.info_parameter is not None)
            or (step.completion is not None and getattr(step.completion, "paths", False))
            for step in steps
        )
        return Objects(type_, tuple(steps), nullable, is_type_of, paths)

    def completion(
        self, type_: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Completion | None:
        nullable = not isinstance(type_, GraphQLNonNull)
        named = type_ if nullable else type_.of_type  # type: ignore[union-attr]
        if isinstance(named, GraphQLScalarType | GraphQLEnumType):
            return Leaf(named.coerce_output_value, nullable, output_as_is(named))
        if isinstance(named, GraphQLList):
            item = self.completion(named.of_type, field_details_list)
            if item is None:
                return None
            return Items(item, nullable, getattr(item, "paths", False))
        if isinstance(named, GraphQLObjectType):
            context = self.context
            subfields = collect_subfields(
                context.schema,
                context.fragments,
                context.variable_values,
                context.operation,
                named,
                field_details_list,
                context.hide_suggestions,
            )
            return self.objects(named, subfields.grouped_field_set, nullable=nullable)
        return None


def _generated_by_strawberry(is_type_of: Callable[..., Any]) -> bool:
    """Strawberry's own is_type_of (an isinstance check for types with interfaces) ignores its
    info; compiled runs do not build one for it."""
    return "GraphQLCoreConverter" in getattr(is_type_of, "__qualname__", "")


class Run:
    """One compiled run of a query."""

    __slots__ = ("context", "is_awaitable", "memo", "pending")

    def __init__(self, context: ShortPathContext) -> None:
        self.context = context
        self.is_awaitable = context.is_awaitable
        self.pending: list[Pending] = []
        self.memo = Memo()

    def objects(self, completion: Objects, source: Any, path: Path | None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        type_name = completion.type_.name
        for step in completion.steps:
            found = step.plan
            if type(found) is Attribute:
                value = attribute_value(found, source)
                if value is USUAL_PATH:
                    raise GiveUp
                result[step.key] = value
                continue
            if found is None:
                result[step.key] = type_name
                continue
            field_path = Path(path, step.key, type_name) if completion.paths else None
            if type(found) is ObjectAttribute:
                self.complete(step.completion, found.read(source), field_path, result, step.key)  # type: ignore[arg-type]
                continue
            value = self.call(cast(Resolver, found), completion.type_, source, step, field_path)
            if self.is_awaitable(value):
                result[step.key] = None
                self.pending.append(
                    Pending(
                        value,
                        step.completion,  # type: ignore[arg-type]
                        field_path,
                        result,
                        step.key,
                        self.memo.add(source, step.details.node, value),
                    )
                )
                continue
            self.memo.add(source, step.details.node, value)
            self.complete(step.completion, value, field_path, result, step.key)  # type: ignore[arg-type]
        return result

    def call(
        self,
        found: Resolver,
        parent_type: GraphQLObjectType,
        source: Any,
        step: Step,
        path: Path | None,
    ) -> Any:
        context = self.context
        info = (
            context.build_resolve_info(found.field_def, step.nodes, parent_type, path)  # type: ignore[arg-type]
            if found.info_parameter is not None
            else None
        )
        try:
            return context._call(found, source, step.details, info)
        except Exception as error:
            self.memo.add(source, step.details.node, Raised(error))
            raise GiveUp from None

    def complete(
        self, completion: Completion, value: Any, path: Path | None, container: Any, key: Any
    ) -> None:
        if value is None:
            if not completion.nullable:
                raise GiveUp
            container[key] = None
            return
        if self.is_awaitable(value):
            container[key] = None
            self.pending.append(Pending(value, completion, path, container, key, None))
            return
        if isinstance(value, Exception):
            raise GiveUp
        kind = type(completion)
        if kind is Leaf:
            if type(value) is completion.as_is:  # type: ignore[union-attr]
                container[key] = value
                return
            coerced = completion.coerce(value)  # type: ignore[union-attr]
            if coerced is None or coerced is Undefined:
                raise GiveUp
            container[key] = coerced
        elif kind is Objects:
            is_type_of = completion.is_type_of  # type: ignore[union-attr]
            if is_type_of is not None and not is_type_of(value, None):
                raise GiveUp
            container[key] = self.objects(completion, value, path)  # type: ignore[arg-type]
        else:
            if not isinstance(value, list | tuple):
                raise GiveUp
            items: list[Any] = [None] * len(value)
            item = completion.item  # type: ignore[union-attr]
            if completion.paths:  # type: ignore[union-attr]
                for index, each in enumerate(value):
                    self.complete(item, each, Path(path, index, None), items, index)
            else:
                for index, each in enumerate(value):
                    self.complete(item, each, None, items, index)
            container[key] = items

    async def settle(self) -> None:
        """Await what is pending, level by level, completing each value as it comes."""
        while self.pending:
            waiting, self.pending = self.pending, []
            if len(waiting) == 1:
                try:
                    values = [await waiting[0].awaitable]
                except Exception as error:
                    values = [error]
            else:
                # Nothing is cancelled on an error: a loader's future may be shared, and is
                # wanted again when the query runs the usual way.
                values = await asyncio.gather(
                    *(each.awaitable for each in waiting), return_exceptions=True
                )
            # Every value of the level is remembered before any is completed: a give-up while
            # completing one must not lose its siblings' values.
            for each, value in zip(waiting, values, strict=True):
                if each.resolved is not None:
                    each.resolved.value = (
                        Raised(value) if isinstance(value, BaseException) else value
                    )
            for each, value in zip(waiting, values, strict=True):
                if isinstance(value, BaseException):
                    raise GiveUp
                self.complete(each.completion, value, each.path, each.container, each.key)

    def give_up(self) -> Memo:
        """Close what the run leaves pending but no resolver gave (a resolver's awaitable is
        left for graphql-core's steps to await); the resolvers' values, for those steps."""
        for each in self.pending:
            if each.resolved is None and asyncio.iscoroutine(each.awaitable):
                each.awaitable.close()
        self.pending = []
        return self.memo
