"""The per-request GraphQL context: who is asking, and the request's own loaders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from domain.errors import DomainError, ErrorCode
from domain.ratelimit import check_rate
from domain.users.tokens import SESSION_ENDED
from resolvers.errors import ClientError
from resolvers.loaders import Loaders

if TYPE_CHECKING:
    from config.runtime import Runtime


@dataclass
class Context:
    runtime: Runtime
    request: Request | WebSocket
    response: Response | WebSocket | None
    viewer_id: int | None
    loaders: Loaders = field(init=False)
    # The connection_init payload of a WebSocket (Strawberry sets it).
    connection_params: dict[str, object] | None = None
    # A WebSocket's: the token epoch it signed in with (see `check_session`).
    token_epoch: int | None = None
    # The ranking model that ordered this response's explore page (extensions.rankingModel).
    ranking_model: str | None = None
    # When the first story of this response's tray expires (ms): a kept tray must not outlive it.
    tray_expires_ms: int | None = None

    def __post_init__(self) -> None:
        self._new_loaders()

    def sign_in(self, viewer_id: int, *, token_epoch: int) -> None:
        """A WebSocket authenticated in its connection_init: act as this viewer from now on."""
        self.viewer_id = viewer_id
        self.token_epoch = token_epoch
        self._new_loaders()

    async def check_session(self) -> None:
        """On a WebSocket, before each event: is its session still good? A password change,
        deactivation, suspension or deletion since connection_init ends its subscriptions at
        the next event (the user as cached now, as the HTTP auth step reads it)."""
        if self.token_epoch is None or self.viewer_id is None:
            return
        view = await self.runtime.users.get(self.viewer_id)
        if view is None or view.token_epoch != self.token_epoch:
            raise ClientError(SESSION_ENDED, code=ErrorCode.UNAUTHENTICATED)

    def _new_loaders(self) -> None:
        self.loaders = Loaders(
            users=self.runtime.users,
            media=self.runtime.media,
            posts=self.runtime.posts,
            stories=self.runtime.stories,
            viewer_id=self.viewer_id,
        )

    def require_viewer(self) -> int:
        if self.viewer_id is None:
            raise ClientError(
                "Sign in to do this: send 'Authorization: Bearer <accessToken>'.",
                code=ErrorCode.UNAUTHENTICATED,
            )
        return self.viewer_id

    def signed_in(self) -> int:
        """The viewer for a mutation, or a typed UNAUTHENTICATED error for its payload."""
        if self.viewer_id is None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "Sign in to do this.")
        return self.viewer_id

    async def count_mutation(self) -> None:
        """Per-viewer (or per-address when signed out) mutation rate limit."""
        who = f"u{self.viewer_id}" if self.viewer_id else f"ip{self.client_ip}"
        await check_rate(
            self.runtime.redis,
            bucket=f"mut:{who}",
            limit=self.runtime.settings.rate_limit_per_minute,
        )

    @asynccontextmanager
    async def spending(self, action: str) -> AsyncIterator[None]:
        """Use one of the viewer's `action` budget (domain/budgets) for what runs inside, or
        RATE_LIMITED; an action refused inside (its input, say) gives the use back."""
        viewer = self.signed_in()
        account = await self.loaders.user.load(viewer)
        if account is None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "Sign in to do this.")
        budgets = self.runtime.budgets
        use = await budgets.spend(action, user_id=viewer, account_created_at=account.created_at)
        try:
            yield
        except DomainError:
            await budgets.refund(action, user_id=viewer, use=use)
            raise

    @property
    def client_ip(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"


Info = StrawberryInfo[Context, None]
