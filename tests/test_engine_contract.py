"""What the execution engine (schema/engine) takes from graphql-core and Strawberry beyond their
public API. Both are pinned in pyproject.toml; when an upgrade renames one of these, this test
names it, so that the upgrade is a conscious step and never a silently slower or wrong path."""

from __future__ import annotations

import inspect

import graphql
import pytest
import strawberry
from graphql.execution.executor import Executor
from strawberry.extensions import MaskErrors
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from schema.engine import compiled, execution


def test_graphql_core_is_the_version_the_engine_was_written_for() -> None:
    assert graphql.__version__ == "3.3.2"


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "graphql.execution.collect_fields",
            ["FieldDetails", "FieldDetailsList", "GroupedFieldSet", "collect_subfields"],
        ),
        ("graphql.execution.values", ["get_argument_values"]),
        ("graphql.pyutils", ["Path", "gather_with_cancel"]),
    ],
)
def test_graphql_core_helpers(module: str, names: list[str]) -> None:
    imported = __import__(module, fromlist=names)
    assert [n for n in names if not hasattr(imported, n)] == []


# The executor methods the engine overrides or calls, with the parameters it passes.
METHODS = {
    "execute_operation": ["serially"],
    "execute_fields": [
        "parent_type",
        "source_value",
        "path",
        "grouped_field_set",
        "position_context",
    ],
    "execute_field": ["parent_type", "source", "field_details_list", "path", "position_context"],
    "get_stream_usage": ["field_details_list", "path"],
    "build_resolve_info": ["field_def", "field_nodes", "parent_type", "path"],
    "complete_value": [
        "return_type",
        "field_details_list",
        "info",
        "path",
        "result",
        "position_context",
    ],
    "complete_awaitable_value": [
        "return_type",
        "field_details_list",
        "info",
        "path",
        "result",
        "position_context",
    ],
    "handle_field_error": ["raw_error", "return_type", "field_details_list", "path"],
    "settle_in_background": ["awaitables"],
}


@pytest.mark.parametrize(("name", "parameters"), METHODS.items())
def test_executor_methods(name: str, parameters: list[str]) -> None:
    method = getattr(Executor, name, None)
    assert method is not None, f"graphql-core's Executor has no {name} any more"
    found = list(inspect.signature(method).parameters)[1:]
    assert found[: len(parameters)] == parameters


def test_executor_state_the_engine_reads() -> None:
    schema = graphql.build_schema("type Query { a: Int }")
    document = graphql.parse("{ a }")
    context = Executor.build(schema, document)
    assert isinstance(context, Executor)
    for name in (
        "schema",
        "operation",
        "fragments",
        "variable_values",
        "hide_suggestions",
        "middleware_manager",
        "is_awaitable",
        "async_helpers",
    ):
        assert hasattr(context, name), name
    assert getattr(schema.query_type.fields["a"].resolve, "_is_default", True)  # type: ignore[union-attr]


@strawberry.type
class Probe:
    @strawberry.field
    def scaled(self, info: Info, by: int) -> int:
        return by


def test_strawberry_internals() -> None:
    assert issubclass(execution.ShortPathContext, StrawberryGraphQLCoreExecutionContext)
    assert hasattr(GraphQLCoreConverter, "DEFINITION_BACKREF")
    # Strawberry's is_type_of is recognised by its qualified name.
    assert "GraphQLCoreConverter" in GraphQLCoreConverter.from_object.__qualname__
    definition = Probe.__strawberry_definition__.fields[0]  # type: ignore[attr-defined]
    assert isinstance(definition, StrawberryField)
    assert definition.python_name == "scaled"
    assert definition.default_resolver is getattr
    assert not definition.is_subscription
    assert [a.python_name for a in definition.arguments] == ["by"]
    assert definition.extensions == []
    resolver = definition.base_resolver
    assert isinstance(resolver, StrawberryResolver)
    assert resolver.wrapped_func is Probe.scaled
    assert resolver.self_parameter is not None
    assert resolver.info_parameter is not None
    assert resolver.info_parameter.name == "info"
    assert resolver.parent_parameter is None
    assert resolver.root_parameter is None
    assert {"_raw_info", "_field"} <= set(inspect.signature(Info).parameters)
    assert hasattr(MaskErrors, "_process_errors")
    assert hasattr(MaskErrors, "_process_result")
    assert issubclass(compiled.GiveUp, Exception)
