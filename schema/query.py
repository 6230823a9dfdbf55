"""The Query root for accounts and the graph: viewer, node, user, search."""

from __future__ import annotations

import strawberry

from domain.errors import ErrorCode
from resolvers import media, messaging, notifications, posts, stories
from resolvers import users as resolve
from resolvers.context import Info
from resolvers.errors import ClientError
from resolvers.global_ids import id_argument, page_arguments, parse_global_id
from schema.media import Media
from schema.messaging import Message, Thread
from schema.node import Node
from schema.notifications import Notification
from schema.pagination import Connection
from schema.posts import Comment, Hashtag, Post, build_post
from schema.user import User


@strawberry.type(
    description="Search results, best match first: an exact match, then the most followed"
    " accounts and the most used hashtags. Each list pages on its own (`first` defaults to the"
    " search's), up to 200 deep."
)
class SearchResults:
    query: strawberry.Private[str]
    first: strawberry.Private[int | None]

    @strawberry.field(description="Accounts whose username starts with the query.")
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        page = await resolve.search(
            info.context, self.query, self.first if first is None else first, after
        )
        views = await info.context.loaders.user.load_many(page.ids)
        return Connection.of(page, [User.maybe(v) for v in views])

    @strawberry.field(description="Hashtags that start with the query (without its #).")
    async def hashtags(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Hashtag]:
        page, views = await posts.search_hashtags(
            info.context, self.query, self.first if first is None else first, after
        )
        return Connection.of(page, [Hashtag.from_row(views[i]) for i in page.ids])


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
            raise ClientError("'id' is not a valid id.", code=ErrorCode.INVALID_ID) from None
        if type_name == "User":
            return User.maybe(await resolve.visible_user(info.context, raw_id))
        if type_name == "Media":
            view = await media.own_media(info.context, raw_id)
            return Media.from_view(view) if view else None
        if type_name == "Post":
            return await build_post(info, await posts.visible_post(info.context, raw_id))
        if type_name == "Comment":
            comment = await posts.visible_comment(info.context, raw_id)
            return Comment.from_view(comment) if comment else None
        if type_name == "Thread":
            state = await messaging.thread(info.context, id)
            return Thread.from_state(state) if state else None
        if type_name == "Message":
            row = await messaging.visible_message(info.context, raw_id)
            return Message.from_row(row) if row else None
        if type_name == "Notification":
            found = await notifications.rows(info.context, [raw_id])
            return Notification.from_row(found[0]) if found else None
        if type_name == "Story":
            from schema.stories import Story

            story = await stories.visible_story(info.context, raw_id)
            return Story.from_view(story) if story else None
        if type_name == "Highlight":
            from schema.stories import Highlight

            highlight = await stories.visible_highlight(info.context, raw_id)
            return Highlight.from_view(highlight) if highlight else None
        if type_name == "Hashtag":
            tag = await info.context.loaders.hashtag.load(raw_id)
            return Hashtag.from_row(tag) if tag else None
        return None

    @strawberry.field(description="A post by its id; null when missing or not visible.")
    async def post(self, info: Info, id: strawberry.ID) -> Post | None:
        return await build_post(
            info, await posts.visible_post(info.context, id_argument(id, "Post"))
        )

    @strawberry.field(description="A hashtag by name (with or without the #).")
    async def hashtag(self, info: Info, name: str) -> Hashtag | None:
        row = await posts.hashtag(info.context, name)
        return Hashtag.from_row(row) if row else None

    @strawberry.field(description="An account by username (any case).")
    async def user(self, info: Info, username: str) -> User | None:
        return User.maybe(await resolve.by_username(info.context, username))

    @strawberry.field(
        description="Accounts and hashtags by prefix; `first` is each list's page size."
    )
    async def search(self, info: Info, query: str, first: int | None = None) -> SearchResults:
        page_arguments(first, None)  # a bad page size is the search's error, not each list's
        return SearchResults(query=resolve.search_query(query), first=first)
