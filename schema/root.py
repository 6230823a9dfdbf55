"""The schema: per-area roots merged into Query and Mutation, with the guard rails."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any, ClassVar

import strawberry
from graphql import DocumentNode, validate
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.tools import merge_types

from config.settings import Settings
from resolvers.errors import should_mask
from schema.accounts import AccountMutation
from schema.execution import ShortPathContext
from schema.feed import FeedQuery
from schema.graph import GraphMutation
from schema.media import Media, MediaMutation
from schema.messaging import Message, MessagingMutation, MessagingQuery, Thread
from schema.notifications import Notification, NotificationMutation, NotificationQuery
from schema.plans import ByIdentity
from schema.post import Comment, Hashtag, Post
from schema.posts import PostMutation
from schema.query import UserQuery
from schema.realtime import Subscription
from schema.user import User

Query = merge_types("Query", (UserQuery, FeedQuery, MessagingQuery, NotificationQuery))
Mutation = merge_types(
    "Mutation",
    (
        AccountMutation,
        GraphMutation,
        MediaMutation,
        PostMutation,
        MessagingMutation,
        NotificationMutation,
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


class MaskInternalErrors(MaskErrors):
    """MaskErrors, whose check of each result (an isinstance against a runtime-checkable
    Protocol) cost a per cent of a feed page: a plain look at `errors` does the same. Should
    Strawberry rename the method, its own check simply runs again."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


VALIDATED_DOCUMENTS = 1_000


class ValidatedDocuments(SchemaExtension):
    """Remembers the validation of each parsed document, as Strawberry's ValidationCache does,
    but finds it by the document's identity: ParserCache hands back the very same document for
    the same query text, and ValidationCache's lookup hashes the whole document tree on every
    request."""

    _known: ClassVar[ByIdentity[DocumentNode, tuple[object, tuple[object, ...], list[Any]]]] = (
        ByIdentity(VALIDATED_DOCUMENTS)
    )

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, schema = context.graphql_document, context.schema._schema
        rules = tuple(context.validation_rules)
        assert document is not None
        known = self._known.get(document)
        if known is not None and known[0] is schema and known[1] == rules:
            errors = known[2]
        else:
            errors = validate(schema, document, rules)
            self._known.put(document, (schema, rules, errors))
        context.pre_execution_errors = errors
        yield


def build_schema(
    settings: Settings, *, extra_extensions: Sequence[type[SchemaExtension]] = ()
) -> strawberry.Schema:
    guard_rules = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Media, Post, Comment, Hashtag, Thread, Message, Notification],
        config=StrawberryConfig(name_converter=RememberedNames()),
        execution_context_class=ShortPathContext,
        # Factories, not instances: each operation gets its own extension objects (the parser
        # and validation caches are shared module-level LRUs all the same).
        extensions=[
            # The depth and alias rules are built once, so that every request passes the same
            # rule classes and ValidatedDocuments can answer from its cache.
            partial(AddValidationRules, guard_rules),
            partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
            partial(ParserCache, maxsize=1_000),
            ValidatedDocuments,
            partial(MaskInternalErrors, should_mask_error=should_mask),
            *extra_extensions,
        ],
    )
