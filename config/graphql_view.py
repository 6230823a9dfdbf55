"""Strawberry's ASGI view, fitted to Shutter: bearer-token auth, the per-request context, and the
GraphQL-over-HTTP spec's media types and status codes."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any, cast

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, OperationType, get_operation_ast
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from config import graphiql
from config.metrics import TRAY_ANSWERS
from config.outages import RETRY_AFTER_SECONDS, UNAVAILABLE_EXTENSIONS, is_outage
from config.runtime import Runtime
from domain.errors import DomainError, ErrorCode
from domain.users.store import UserView
from domain.users.tokens import authenticate
from resolvers.context import Context
from schema.errors import RATE_LIMITED_FIELDS
from schema.root import UNAVAILABLE_MESSAGE, parse_document
from schema.tray_cache import TrayDocument, document_key, tray_document

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
PREFLIGHT_HEADERS = ("graphql-preflight", "apollo-require-preflight", "x-shutter-upload")


def _bearer_token(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _prefers_graphql_response(accept: str) -> bool:
    """True when the client lists application/graphql-response+json before application/json."""
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media == GRAPHQL_RESPONSE_JSON:
            return True
        if media in {"application/json", "*/*", "application/*"}:
            return False
    return False


def _refusal(
    status: int,
    message: str,
    code: ErrorCode,
    *,
    accept: str = "",
    headers: dict[str, str] | None = None,
    extensions: dict[str, object] | None = None,
) -> Response:
    """A request refused before it runs, in the GraphQL response shape clients parse anyway."""
    body = {"errors": [{"message": message, "extensions": extensions or {"code": code.value}}]}
    media = GRAPHQL_RESPONSE_JSON if _prefers_graphql_response(accept) else "application/json"
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=headers)


def _unavailable(accept: str) -> Response:
    """An outage before the request could run (its token could not be checked)."""
    response = _refusal(
        503,
        UNAVAILABLE_MESSAGE,
        ErrorCode.UNAVAILABLE,
        accept=accept,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    body = orjson.loads(response.body)
    body["errors"][0]["extensions"] = dict(UNAVAILABLE_EXTENSIONS)
    response.body = orjson.dumps(body)
    response.headers["content-length"] = str(len(response.body))
    return response


def _unauthorized(message: str) -> Response:
    return _refusal(
        401,
        message,
        ErrorCode.UNAUTHENTICATED,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


# Strawberry's GraphiQL opens its WebSocket with no connection_init payload, which Shutter
# refuses. This fetcher sends the headers pane (where the Authorization header goes) as the
# payload, one socket per distinct set of headers.
_STOCK_FETCHER = """      const fetcher = GraphiQL.createFetcher({
        url: fetchURL,
        headers: defaultHeaders,
        subscriptionUrl,
      });"""
_AUTHENTICATING_FETCHER = """      const fetchers = {};
      const fetcher = (params, opts) => {
        const headers = (opts && opts.headers) || {};
        const key = JSON.stringify(headers);
        if (!fetchers[key]) {
          fetchers[key] = GraphiQL.createFetcher({
            url: fetchURL,
            headers: defaultHeaders,
            subscriptionUrl,
            wsConnectionParams: headers,
          });
        }
        return fetchers[key](params, opts);
      };"""


@functools.cache
def graphiql_page() -> tuple[str, dict[str, Path]]:
    """Strawberry's GraphiQL page, its fetcher sending the headers pane in connection_init and
    every file it loads served by Shutter (config/graphiql); and those files by their path."""
    html = get_graphql_ide_html(graphql_ide="graphiql")
    if _STOCK_FETCHER not in html:  # a Strawberry upgrade changed the page: say so loudly
        raise RuntimeError("GraphiQL's fetcher changed; update _AUTHENTICATING_FETCHER")
    return graphiql.localize(html.replace(_STOCK_FETCHER, _AUTHENTICATING_FETCHER))


class ShutterGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: Any, runtime: Runtime) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if runtime.settings.graphiql_enabled else None,
            multipart_uploads_enabled=True,
            # Strawberry refuses WebSockets from other origins unless told: the ones CORS lets
            # call /graphql may subscribe too (the token is in connection_init, never a cookie).
            allowed_origins=list(runtime.settings.cors_origins),
        )
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Request(scope).headers
            if headers.get("content-type", "").startswith("multipart/form-data") and not any(
                headers.get(name) for name in PREFLIGHT_HEADERS
            ):
                # A form post is a "simple" request a browser sends cross-site without asking;
                # a custom header forces a CORS preflight, so uploads cannot be forged (CSRF).
                refusal = HTTPException(
                    400, "Multipart requests need a 'GraphQL-Preflight: 1' header."
                )
                await _transport_error(refusal, accept=headers.get("accept", ""))(
                    scope, receive, send
                )
                return
            header = headers.get("authorization")
            if header is not None:
                token = _bearer_token(header)
                if token is None:
                    response = _unauthorized("Send the token as 'Authorization: Bearer <token>'.")
                    await response(scope, receive, send)
                    return
                try:
                    scope["shutter.viewer"] = await authenticate(
                        token, secret=self.runtime.settings.jwt_secret, users=self.runtime.users
                    )
                except DomainError as error:
                    await _unauthorized(error.message)(scope, receive, send)
                    return
                except Exception as error:
                    if not is_outage(error):
                        raise
                    # the user could not be read to check the token: retry in a moment
                    await _unavailable(headers.get("accept", ""))(scope, receive, send)
                    return
            try:
                response = await self.run(Request(scope, receive=receive))
            except HTTPException as error:
                response = _transport_error(error, accept=headers.get("accept", ""))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    # orjson reads and writes GraphQL bodies several times faster than the json module, which
    # Strawberry uses by default; text (not bytes), since WebSocket messages must be text frames.
    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        return orjson.dumps(data).decode()

    def parse_json(self, data: str | bytes) -> Any:
        """A request body (or a multipart `operations` field): a JSON object, or a list that
        the batch check then refuses; `null`, a number or a string is the client's mistake."""
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict | list):
            raise HTTPException(
                400, 'The request body must be a JSON object: {"query": "...", "variables": {}}.'
            )
        return parsed

    @property
    def graphql_ide_html(self) -> str:
        return graphiql_page()[0]

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """WebSockets authenticate in connection_init: {"authorization": "Bearer <jwt>"}.
        Without a valid token the connection is refused (4403 on graphql-transport-ws)."""
        params = context.connection_params or {}
        value = params.get("authorization") or params.get("Authorization")
        token = _bearer_token(value) if isinstance(value, str) else None
        if token is None:
            raise ConnectionRejectionError(
                {"message": 'Send {"authorization": "Bearer <accessToken>"} in connection_init.'}
            )
        try:
            viewer = await authenticate(
                token, secret=self.runtime.settings.jwt_secret, users=self.runtime.users
            )
        except DomainError as error:
            raise ConnectionRejectionError({"message": error.message}) from None
        except Exception as error:
            if not is_outage(error):
                raise
            raise ConnectionRejectionError(
                {"message": UNAVAILABLE_MESSAGE, **UNAVAILABLE_EXTENSIONS}
            ) from None
        context.sign_in(viewer.id, token_epoch=viewer.token_epoch)
        context.loaders.prime(context.loaders.user, {viewer.id: viewer})
        return None

    async def execute_single(
        self, request: Any, request_adapter: Any, *args: Any, **kwargs: Any
    ) -> Any:
        data = kwargs.get("request_data")
        if data is not None and self._is_subscription(data.query, data.operation_name):
            raise HTTPException(
                400,
                "Subscriptions run over a WebSocket to /graphql (graphql-transport-ws or"
                " graphql-ws), not over HTTP.",
            )
        context = kwargs.get("context")
        if (
            data is not None
            and data.query
            and isinstance(context, Context)
            and context.viewer_id is not None
            and self.runtime.trays.enabled
        ):
            tray = tray_document(
                cast(Any, self.schema)._schema,
                data.query,
                data.operation_name,
                self.runtime.settings.graphql_max_tokens,
            )
            if tray is not None:
                return await self._tray(tray, request, request_adapter, *args, **kwargs)
        return await self._execute(request, request_adapter, *args, **kwargs)

    async def _tray(
        self,
        tray: TrayDocument,
        request: Any,
        request_adapter: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """A story tray query: the kept answer while its fingerprint holds; otherwise run, and
        keep what it answered (domain/stories/tray_cache)."""
        data, context, trays = kwargs["request_data"], kwargs["context"], self.runtime.trays
        viewer = cast(int, context.viewer_id)
        document = document_key(
            data.query, data.operation_name, data.variables, str(request.base_url)
        )
        try:
            looked = await trays.look(viewer, document, self.runtime.ranking.version)
        except Exception as error:
            if not is_outage(error):
                raise
            looked = None  # the run reports the outage as any query does
        if looked is not None and looked.body is not None:
            TRAY_ANSWERS.labels("kept").inc()
            extensions = None
            if self.runtime.settings.environment != "production":
                cost = tray.cost.cost(data.operation_name, data.variables)
                extensions = {"cost": cost, "sqlStatements": 0}
            return ExecutionResult(
                data={tray.field: orjson.Fragment(looked.body)}, errors=None, extensions=extensions
            )
        TRAY_ANSWERS.labels("made").inc()
        result = await self._execute(request, request_adapter, *args, **kwargs)
        answered = result.data.get(tray.field) if result.data else None
        if looked is not None and not result.errors and isinstance(answered, list):
            with contextlib.suppress(Exception):  # keeping it only saves the next read's work
                await trays.keep(
                    viewer,
                    document,
                    looked,
                    orjson.dumps(answered).decode(),
                    until_ms=context.tray_expires_ms,
                )
        return result

    async def _execute(self, request: Any, request_adapter: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(request, request_adapter, *args, **kwargs)
        except HTTPException as error:
            # The spec wants 405, not 400, for a mutation sent with GET.
            if request_adapter.method == "GET" and isinstance(
                error.__cause__, InvalidOperationTypeError
            ):
                raise HTTPException(405, error.reason) from error
            raise

    def _is_subscription(self, query: str | None, operation_name: str | None) -> bool:
        """Whether the operation to run is a subscription (the parse is the cached one the
        execution uses next; a document that does not parse is left to the execution)."""
        if not query:
            return False
        try:
            document = parse_document(query, self.runtime.settings.graphql_max_tokens)
        except GraphQLError:
            return False
        operation = get_operation_ast(document, operation_name)
        return operation is not None and operation.operation is OperationType.SUBSCRIPTION

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        viewer: UserView | None = request.scope.get("shutter.viewer")
        context = Context(
            runtime=self.runtime,
            request=request,
            response=response,
            viewer_id=viewer.id if viewer else None,
        )
        if viewer is not None:  # read by the auth step already: the request's first read of it
            context.loaders.prime(context.loaders.user, {viewer.id: viewer})
        return context

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        accept = request.headers.get("accept", "")
        sub_response.graphql_response_json = _prefers_graphql_response(accept)  # type: ignore[attr-defined]
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        limited = getattr(sub_response, RATE_LIMITED_FIELDS, 0)
        answered = response_data.get("data") if isinstance(response_data, dict) else None
        if limited and answered and len(answered) == limited:
            response.status_code = 429  # the whole request was refused for a limit
        if isinstance(response_data, dict) and _is_outage(response_data):
            # Nothing could be answered, for a reason that passes: say when to come back.
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            if getattr(sub_response, "graphql_response_json", False):
                response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            return response
        if getattr(sub_response, "graphql_response_json", False):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            # A request error (it did not parse or validate, so nothing ran) is a 400 in this
            # media type; execution errors keep 200 with partial data.
            if isinstance(response_data, dict) and _is_request_error(response_data):
                response.status_code = 400
        return response


def _transport_error(error: HTTPException, *, accept: str) -> Response:
    """A request refused before it could run (a body that is not JSON, a content type or method
    GraphQL over HTTP does not take, an operation that is not there), in the GraphQL response
    shape clients parse anyway, with the status the spec gives."""
    status = error.status_code
    if error.reason == "Unsupported content type":
        status = 415
    headers = {"Allow": "GET, POST"} if status == 405 else None
    return _refusal(status, error.reason, ErrorCode.INVALID_INPUT, accept=accept, headers=headers)


def _is_outage(data: GraphQLHTTPResponse) -> bool:
    """The whole request failed on an outage: no field has data (each is null; a falsy answer
    such as `false` or `[]` is an answer), and an error says UNAVAILABLE."""
    errors = cast(list[dict[str, Any]], data.get("errors") or [])
    answered = data.get("data")
    return all(value is None for value in (answered or {}).values()) and any(
        (e.get("extensions") or {}).get("code") == ErrorCode.UNAVAILABLE.value for e in errors
    )


def _is_request_error(data: GraphQLHTTPResponse) -> bool:
    errors = cast(list[dict[str, Any]], data.get("errors") or [])
    return (
        data.get("data") is None and bool(errors) and all(not error.get("path") for error in errors)
    )
