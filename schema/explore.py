"""explore."""

from __future__ import annotations

import strawberry

from resolvers import explore as resolve
from resolvers.context import Info
from schema.pagination import Connection
from schema.posts import Post, post_connection


@strawberry.type
class ExploreQuery:
    @strawberry.field(
        description="Recommended posts from outside the viewer's graph: public posts of"
        " accounts the viewer does not follow, never their own, never from across a block,"
        " never hidden by reports, never one they have seen or marked not interested. Ranked"
        " by the learned model (a new viewer gets what is popular and fresh), one author at"
        " most once in any four in a row; a snapshot whose cursors hold while paging, renewed"
        " at each first page. Outside production, extensions.rankingModel names the model"
        " that ranked the page."
    )
    async def explore(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Post]:
        return await post_connection(info, await resolve.page(info.context, first, after))
