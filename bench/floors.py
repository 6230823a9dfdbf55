"""The floors the feed benchmark measures Shutter against, served the same way (uvicorn):

- `static_strawberry_app`: the same GraphQL feed query, answered by Strawberry from objects held
  in memory - what the GraphQL layer alone costs;
- `raw_json_app`: a Starlette route returning the same page as ready JSON - what the HTTP stack
  alone costs.

Both read the page to serve from the file named by BENCH_PAGE_FILE.
"""

from __future__ import annotations

import json
import os
from typing import Any

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache


def _page() -> dict[str, Any]:
    with open(os.environ["BENCH_PAGE_FILE"]) as f:
        data: dict[str, Any] = json.load(f)
    return data


@strawberry.type
class StaticMedia:
    stored_url: strawberry.Private[str | None]

    @strawberry.field
    def url(self, width: int | None = None) -> str | None:
        return self.stored_url


@strawberry.type
class StaticAuthor:
    username: str


@strawberry.type
class StaticPost:
    id: strawberry.ID
    caption: str
    like_count: int
    comment_count: int
    author: StaticAuthor
    media: list[StaticMedia]


@strawberry.type
class StaticEdge:
    cursor: str
    node: StaticPost


@strawberry.type
class StaticPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class StaticConnection:
    edges: list[StaticEdge]
    page_info: StaticPageInfo


def _connection(data: dict[str, Any]) -> StaticConnection:
    feed = data["data"]["feed"]
    return StaticConnection(
        edges=[
            StaticEdge(
                cursor=edge["cursor"],
                node=StaticPost(
                    id=edge["node"]["id"],
                    caption=edge["node"]["caption"],
                    like_count=edge["node"]["likeCount"],
                    comment_count=edge["node"]["commentCount"],
                    author=StaticAuthor(username=edge["node"]["author"]["username"]),
                    media=[StaticMedia(stored_url=m["url"]) for m in edge["node"]["media"]],
                ),
            )
            for edge in feed["edges"]
        ],
        page_info=StaticPageInfo(
            has_next_page=feed["pageInfo"]["hasNextPage"], end_cursor=feed["pageInfo"]["endCursor"]
        ),
    )


def static_strawberry_app() -> Starlette:
    page = _connection(_page())

    @strawberry.type
    class Query:
        @strawberry.field
        async def feed(
            self, first: int | None = None, after: str | None = None
        ) -> StaticConnection:
            return page

    # The same parser and validation caches as Shutter's schema: like is compared with like.
    schema = strawberry.Schema(
        query=Query,
        extensions=[lambda: ParserCache(maxsize=1_000), lambda: ValidationCache(maxsize=1_000)],
    )
    view = GraphQL(schema, graphql_ide=None)
    return Starlette(routes=[Route("/graphql", view, methods=["POST"])])


def raw_json_app() -> Starlette:
    body = json.dumps(_page()).encode()

    async def feed(_: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/graphql", feed, methods=["POST"])])
