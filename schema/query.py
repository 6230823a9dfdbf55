"""The Query root for accounts and the graph: viewer, node, user, search."""

from __future__ import annotations

import strawberry

from resolvers import media
from resolvers import users as resolve
from resolvers.context import Info
from resolvers.errors import ClientError
from resolvers.global_ids import parse_global_id
from schema.media import Media
from schema.node import Node
from schema.user import User


@strawberry.type(description="Search results, best match first.")
class SearchResults:
    users: list[User]


@strawberry.type
class UserQuery:
    @strawberry.field(description="The signed-in user; null when signed out.")
    async def viewer(self, info: Info) -> User | None:
        return User.maybe(await resolve.viewer(info.context))

    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        try:
            type_name, raw_id = parse_global_id(id)
        except ValueError:
            raise ClientError("'id' is not a valid id.", code="INVALID_ID") from None
        if type_name == "User":
            return User.maybe(await resolve.visible_user(info.context, raw_id))
        if type_name == "Media":
            view = await media.own_media(info.context, raw_id)
            return Media.from_view(view) if view else None
        return None

    @strawberry.field(description="An account by username (any case).")
    async def user(self, info: Info, username: str) -> User | None:
        return User.maybe(await resolve.by_username(info.context, username))

    @strawberry.field(description="Accounts whose username starts with the query.")
    async def search(self, info: Info, query: str, first: int | None = None) -> SearchResults:
        ids = await resolve.search(info.context, query, first)
        views = await resolve.users_by_ids(info.context, ids)
        return SearchResults(users=[User.from_view(v) for v in views])
