"""The schema: per-area roots merged into Query and Mutation, with the guard rails."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.tools import merge_types

from config.settings import Settings
from resolvers.errors import should_mask
from schema.accounts import AccountMutation
from schema.graph import GraphMutation
from schema.query import UserQuery
from schema.user import User

Query = merge_types("Query", (UserQuery,))
Mutation = merge_types("Mutation", (AccountMutation, GraphMutation))


def build_schema(
    settings: Settings, *, extra_extensions: Sequence[type[SchemaExtension]] = ()
) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[User],
        extensions=[
            QueryDepthLimiter(max_depth=settings.graphql_max_depth),
            MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
            MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases),
            ParserCache(maxsize=1_000),
            ValidationCache(maxsize=1_000),
            MaskErrors(should_mask_error=should_mask),
            *extra_extensions,
        ],
    )
