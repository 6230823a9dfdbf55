"""A small GraphQL client over HTTP, as a frontend would use the API."""

from __future__ import annotations

import json
from typing import Any

import httpx


class GraphQLError(AssertionError):
    pass


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token: str | None = None

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        bearer = token or self.token
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, token=token)
        # 429: every root field was refused for a limit; the body is a GraphQL response still.
        assert response.status_code in {200, 429}, response.text
        body: dict[str, Any] = response.json()
        return body

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """`data` of a request that must succeed without GraphQL errors."""
        body = await self.raw(query, variables, token=token)
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(
        self, name: str, selection: str, input: dict[str, Any], *, token: str | None = None
    ) -> dict[str, Any]:
        """The payload of mutation `name`, with `errors { field message code }` selected."""
        data = await self.query(
            f"mutation($input: {name[0].upper()}{name[1:]}Input!) {{ {name}(input: $input)"
            f" {{ {selection} errors {{ field message code }} }} }}",
            {"input": input},
            token=token,
        )
        payload: dict[str, Any] = data[name]
        return payload


UPLOAD_MEDIA = (
    "mutation($file: Upload!) { uploadMedia(input: {file: $file}) {"
    " media { id kind status } errors { field message code } } }"
)


async def upload_multipart(
    http: httpx.AsyncClient,
    data: bytes,
    *,
    filename: str,
    content_type: str,
    token: str,
    preflight: bool = True,
) -> httpx.Response:
    """uploadMedia per the GraphQL multipart request spec."""
    operations = json.dumps({"query": UPLOAD_MEDIA, "variables": {"file": None}})
    headers = {"Authorization": f"Bearer {token}"}
    if preflight:
        headers["GraphQL-Preflight"] = "1"
    return await http.post(
        "/graphql",
        data={"operations": operations, "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, data, content_type)},
        headers=headers,
    )
