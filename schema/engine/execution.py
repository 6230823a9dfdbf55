"""A shorter path through graphql-core and Strawberry for the commonest kinds of field.

For every field, graphql-core builds a resolve info, looks for arguments, calls the resolver and
completes the value through the non-null, list, leaf, abstract and object cases in turn; for a
field with a resolver, Strawberry then builds its own Info and converts every argument through
a chain of type checks. A feed page is mostly fields for which all that does nothing: the
fields that have a plan (schema/engine/plans.py).

A query whose every field has a plan runs compiled (schema/engine/compiled.py). In other operations,
planned fields take the short path here, and anything unusual goes through graphql-core's own
steps: a null, an exception or a value the scalar rejects is completed (or reported) by
graphql-core exactly as before. Every field takes the usual path while a schema extension
watches each resolver (graphql-core middleware).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cached_property, partial
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLStreamDirective,
    OperationType,
    Undefined,
    VariableNode,
)
from graphql.execution.collect_fields import FieldDetails, FieldDetailsList, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.language import FieldNode
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from schema.engine.compiled import Memo, Objects, Run, compiled
from schema.engine.plans import (
    USUAL_PATH,
    Attribute,
    ByIdentity,
    ObjectAttribute,
    Resolver,
    attribute_value,
    plan,
    plans_of,
)


async def _gather_fields(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """graphql-core's ending of execute_fields: await the fields that are awaitable."""
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await results[field]
    else:
        awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results


# Argument values of fields whose arguments are literals, by field node.
LITERAL_ARGUMENTS = 10_000
_literal_arguments = ByIdentity[FieldNode, dict[str, Any]](LITERAL_ARGUMENTS)


class ShortPathContext(StrawberryGraphQLCoreExecutionContext):
    # Whether queries may run compiled (GRAPHQL_COMPILED; see build_schema).
    compile_queries = True
    # The resolver values of a given-up compiled run, while the usual steps go on from it.
    _memo: Memo | None = None

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
        """graphql-core's execute_fields; a query's root fields run compiled where they can."""
        if not self._short:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        if (
            path is None
            and self.compile_queries
            and self.operation.operation is OperationType.QUERY
        ):
            steps = compiled(self, parent_type, grouped_field_set)
            if steps is not None:
                usual = partial(
                    self._fields,
                    parent_type,
                    source_value,
                    None,
                    grouped_field_set,
                    position_context,
                )
                return self._run_compiled(steps, source_value, usual)
        return self._fields(parent_type, source_value, path, grouped_field_set, position_context)

    def _run_compiled(self, steps: Objects, source_value: Any, usual: Callable[[], Any]) -> Any:
        """The compiled run of a query's root fields; given up, `usual` goes on from it."""
        run = Run(self)
        try:
            data = run.objects(steps, source_value, None)
        except Exception:
            data = None
        if data is None:  # given up: outside the except, so errors carry their own traceback
            return self._go_on(run, usual)
        if not run.pending:
            return data
        return self._settle_compiled(run, data, usual)

    async def _settle_compiled(
        self, run: Run, data: dict[str, Any], usual: Callable[[], Any]
    ) -> Any:
        try:
            await run.settle()
        except Exception:
            given_up = True
        else:
            given_up = False
        if not given_up:
            return data
        result = self._go_on(run, usual)
        return await result if self.is_awaitable(result) else result

    def _go_on(self, run: Run, usual: Callable[[], Any]) -> Any:
        """Run the usual steps, each resolver the compiled run called answering with what it
        gave then (execute_field takes it from the memo)."""
        memo = self._memo = run.give_up()
        try:
            result = usual()
        except BaseException:
            memo.close_untaken()
            raise
        if not self.is_awaitable(result):
            memo.close_untaken()
            return result
        return self._close_after(memo, result)

    @staticmethod
    async def _close_after(memo: Memo, result: Awaitable[Any]) -> Any:
        try:
            return await result
        finally:
            memo.close_untaken()

    def _fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields, answering plain scalar attributes in the loop itself
        (no path, no call per field); every other field goes to execute_field as before."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        plans = plans_of(parent_type)
        try:
            for response_name, field_details_list in grouped_field_set.items():
                found = plans.get(field_details_list[0].node.name.value)
                if type(found) is Attribute:
                    value = attribute_value(found, source_value)
                    if value is not USUAL_PATH:
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
            found = plan(self.schema, parent_type, field_details_list[0].node.name.value)
            if type(found) is Attribute:
                value = attribute_value(found, source)
                if value is not USUAL_PATH:
                    return value
            elif type(found) is ObjectAttribute:
                read = found.read
                return self._resolve(
                    found.field_def,
                    None,
                    lambda _: read(source),
                    parent_type,
                    field_details_list,
                    path,
                    position_context,
                )
            elif type(found) is Resolver:
                details = field_details_list[0]
                resolved = None if self._memo is None else self._memo.take(source, details.node)
                return self._resolve(
                    found.field_def,
                    found.coerce,
                    partial(self._call, found, source, details)
                    if resolved is None
                    else resolved.produce,
                    parent_type,
                    field_details_list,
                    path,
                    position_context,
                )
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

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
        self, plan: Resolver, source: Any, details: FieldDetails, info: GraphQLResolveInfo | None
    ) -> Any:
        """Call the resolver as Strawberry would, with graphql-core's argument values."""
        values = self._argument_values(plan.field_def, details)
        kwargs = {py: values[gql] for gql, py in plan.names if gql in values}
        if plan.info_parameter and info is not None:
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


class UncompiledContext(ShortPathContext):
    """The short path without compiled queries (GRAPHQL_COMPILED=false)."""

    compile_queries = False
