"""The schema: per-area roots merged into Query and Mutation, with the guard rails."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, ClassVar

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    parse,
    validate,
)
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, QueryDepthLimiter
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.tools import merge_types

from config.outages import UNAVAILABLE_EXTENSIONS, is_outage
from config.settings import Settings
from resolvers.errors import should_mask
from schema.accounts import AccountMutation
from schema.cost import CostPlan, plan_cost
from schema.engine.execution import ShortPathContext, UncompiledContext
from schema.engine.plans import ByIdentity
from schema.explore import ExploreQuery
from schema.feed import FeedQuery
from schema.graph import GraphMutation
from schema.input_guard import literal_errors, variable_errors
from schema.media import Media, MediaMutation
from schema.messaging import Message, MessagingMutation, MessagingQuery, Thread
from schema.moderation import ModerationMutation, ModerationQuery
from schema.notifications import Notification, NotificationMutation, NotificationQuery
from schema.post_mutations import PostMutation
from schema.posts import Comment, Hashtag, Post
from schema.query import UserQuery
from schema.read_routing import ReadRouting
from schema.realtime import Subscription
from schema.reels import ReelsMutation, ReelsQuery
from schema.stories import Highlight, Story, StoryMutation, StoryQuery
from schema.user import User

Query = merge_types(
    "Query",
    (
        UserQuery,
        FeedQuery,
        StoryQuery,
        ReelsQuery,
        ExploreQuery,
        MessagingQuery,
        NotificationQuery,
        ModerationQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountMutation,
        GraphMutation,
        MediaMutation,
        PostMutation,
        MessagingMutation,
        NotificationMutation,
        ModerationMutation,
        StoryMutation,
        ReelsMutation,
    ),
)


class RememberedNames(NameConverter):
    """Strawberry works out the GraphQL name of every argument again on each call of a resolver
    (a camelCase conversion per argument per call: a twentieth of a feed page's time, most of it
    for `Media.url(width:, format:)`); names never change, so remember them."""

    def __init__(self, auto_camel_case: bool = True) -> None:
        super().__init__(auto_camel_case)
        self._names: dict[tuple[bool, str], str] = {}

    def apply_naming_config(self, name: str) -> str:
        key = (self.auto_camel_case, name)
        converted = self._names.get(key)
        if converted is None:
            converted = self._names[key] = super().apply_naming_config(name)
        return converted


UNAVAILABLE_MESSAGE = "The service is briefly unavailable; try again in a moment."

PARSED_DOCUMENTS = 1_000
VALIDATED_DOCUMENTS = 1_000


# Longer documents are refused unread: lexing is pure Python (a megabyte of query text takes
# 160 ms, every other request on the process waiting), and 32 KB is ten times the largest
# document a client sends (an introspection query); big values belong in variables.
MAX_DOCUMENT_CHARS = 32_768


@lru_cache(maxsize=PARSED_DOCUMENTS)
def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """The parsed document of this query text: the very same object for the same text."""
    if len(query) > MAX_DOCUMENT_CHARS:
        raise GraphQLError(
            f"The document is longer than {MAX_DOCUMENT_CHARS} characters; pass large values"
            " as variables.",
            extensions={"code": "INVALID_INPUT"},
        )
    return parse(query, max_tokens=max_tokens)


@dataclass(frozen=True)
class GuardLimits:
    max_tokens: int
    max_cost: int
    report_cost: bool  # extensions.cost in every response
    suggestions: bool  # "Did you mean ...?" in validation errors (which tell the schema)


_SUGGESTION = re.compile(r" Did you mean .*\?$")


def _without_suggestion(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message, error.nodes, error.source, error.positions, error.path, extensions=error.extensions
    )


class Guards(MaskErrors):
    """The guard rails of every operation, in one extension (Strawberry works out each
    extension's hooks anew for every operation: five extensions cost a twentieth of a feed
    page, one costs a fifth of that):

    - documents longer than `max_tokens` tokens are refused while parsing, and parsed
      documents are kept (ParserCache and MaxTokensLimiter in one);
    - the depth and alias rules are added to validation, with the input guard
      (schema/input_guard: no NUL characters, no overlong strings), and each document's
      validation is remembered, found by the document's identity (ValidationCache hashes the
      whole document tree on every request);
    - before it runs, the query's page arguments are checked and its cost (schema/cost: the
      objects it can return) is estimated; a query past GRAPHQL_MAX_COST is refused;
    - errors that are not the client's are masked (MaskErrors, with a plain look at `errors`
      where MaskErrors checks each result against a runtime-checkable Protocol). Should
      Strawberry rename `_process_result`, its own check simply runs again.
    """

    _validated: ClassVar[
        ByIdentity[DocumentNode, tuple[object, tuple[object, ...], list[Any], CostPlan | None]]
    ]
    _validated = ByIdentity(VALIDATED_DOCUMENTS)

    def __init__(
        self,
        rules: tuple[type[ASTValidationRule], ...],
        limits: GuardLimits,
        should_mask_error: Callable[[GraphQLError], bool],
    ) -> None:
        super().__init__(should_mask_error=should_mask_error)
        self._rules = rules
        self._limits = limits
        self._cost: int | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self._rules
        yield from super().on_operation()

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        assert context.query is not None
        context.graphql_document = parse_document(context.query, self._limits.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, schema = context.graphql_document, context.schema._schema
        rules = tuple(context.validation_rules)
        assert document is not None
        known = self._validated.get(document)
        if known is not None and known[0] is schema and known[1] == rules:
            errors, plan = known[2], known[3]
        else:
            errors = validate(schema, document, rules) or literal_errors(document)
            if not self._limits.suggestions:
                errors = [_without_suggestion(error) for error in errors]
            plan = None if errors else plan_cost(schema, document)
            self._validated.put(document, (schema, rules, errors, plan))
        if not errors:
            errors = variable_errors(context.variables)
        if not errors and plan is not None:
            errors = plan.page_errors(context.operation_name, context.variables)
        if not errors and plan is not None:
            self._cost = cost = plan.cost(context.operation_name, context.variables)
            limit = self._limits.max_cost
            if cost > limit:
                errors = [
                    GraphQLError(
                        f"This query could return up to {cost} objects, more than the limit of"
                        f" {limit}: ask for smaller pages (first) or fewer nested lists.",
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": limit},
                    )
                ]
        context.pre_execution_errors = errors
        yield

    def get_results(self) -> dict[str, Any]:
        """Outside production: the query's estimated cost in `extensions.cost`, and the model
        that ranked an explore page in `extensions.rankingModel`."""
        if not self._limits.report_cost:
            return {}
        out: dict[str, Any] = {} if self._cost is None else {"cost": self._cost}
        model = getattr(self.execution_context.context, "ranking_model", None)
        if model is not None:
            out["rankingModel"] = model
        return out

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        """A masked error says nothing of what went wrong, except for an outage: that one is
        `UNAVAILABLE` with `retryable: true`, so a client knows to try again in a moment."""
        if not is_outage(error.original_error):
            return super().anonymise_error(error)
        return GraphQLError(
            message=UNAVAILABLE_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=dict(UNAVAILABLE_EXTENSIONS),
        )

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


log = logging.getLogger("shutter.graphql")

# Quoted text and long numbers in an error message may be the client's own literals (graphql-core
# quotes a value it could not coerce: a password sent as a number, say).
_LITERALS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|\{.*\}|\[.*\]|\b\d{4,}\b')


def redact(message: str) -> str:
    """An error message fit for the log: no literal the client sent."""
    return _LITERALS.sub("…", message)[:300]


class ShutterSchema(strawberry.Schema):
    """Strawberry logs every error with its traceback and its document (which holds the
    literals: passwords, tokens). Here a client's mistake is one line at INFO with its
    literals removed, an outage one line at WARNING, and only a real failure is an ERROR with
    its traceback; never the document or the variables."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        operation = getattr(execution_context, "operation_name", None) or "-"
        for error in errors:
            original = error.original_error
            code = (error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
            if original is None or isinstance(original, GraphQLError):  # ClientError too
                log.info("refused %s: %s %s", operation, code, redact(error.message))
            elif is_outage(original):
                log.warning("outage in %s at %s: %r", operation, error.path, original)
            else:
                log.error(
                    "failed %s at %s: %s",
                    operation,
                    error.path,
                    type(original).__name__,
                    exc_info=original,
                )


def build_schema(
    settings: Settings, *, extra_extensions: Sequence[type[SchemaExtension]] = ()
) -> strawberry.Schema:
    production = settings.environment == "production"
    guard_rules = (
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
        *(() if settings.introspection_enabled else (NoSchemaIntrospectionCustomRule,)),
    )
    limits = GuardLimits(
        max_tokens=settings.graphql_max_tokens,
        max_cost=settings.graphql_max_cost,
        report_cost=not production,
        suggestions=not production,
    )
    return ShutterSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            User,
            Media,
            Post,
            Comment,
            Hashtag,
            Thread,
            Message,
            Notification,
            Story,
            Highlight,
        ],
        config=StrawberryConfig(name_converter=RememberedNames()),
        execution_context_class=(
            ShortPathContext if settings.graphql_compiled else UncompiledContext
        ),
        # A factory, not an instance: each operation gets its own extension object. The depth
        # and alias rules are built once, so that every request passes the same rule classes
        # and validations can be remembered.
        extensions=[
            partial(Guards, guard_rules, limits, should_mask),
            *((ReadRouting,) if settings.replica_urls else ()),
            *extra_extensions,
        ],
    )
