"""register, login, refreshToken, logout, updateProfile."""

from __future__ import annotations

import strawberry

from domain.users.store import UserView
from domain.users.tokens import TokenPair
from resolvers import accounts as resolve
from resolvers.context import Info
from schema.errors import UserError, guarded
from schema.user import User


@strawberry.input
class RegisterInput:
    username: str
    email: str
    password: str


@strawberry.input
class LoginInput:
    username_or_email: str
    password: str


@strawberry.input
class RefreshTokenInput:
    refresh_token: str


@strawberry.input
class LogoutInput:
    refresh_token: str


@strawberry.input
class UpdateProfileInput:
    full_name: str | None = None
    bio: str | None = None
    is_private: bool | None = None
    avatar_media_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A READY photo of yours; null removes the avatar."
    )


@strawberry.type(description="Tokens for the signed-in user, or why sign-in failed.")
class AuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: tuple[TokenPair, UserView] | list[UserError]) -> AuthPayload:
        if isinstance(result, list):
            return cls(errors=result)
        pair, view = result
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            user=User.from_view(view),
        )


@strawberry.type
class LogoutPayload:
    revoked: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateProfilePayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Create an account and sign in.")
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        return AuthPayload.of(
            await guarded(
                info,
                lambda: resolve.register(
                    info.context,
                    username=input.username,
                    email=input.email,
                    password=input.password,
                ),
            )
        )

    @strawberry.mutation(description="Sign in with a username or email and a password.")
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        return AuthPayload.of(
            await guarded(
                info,
                lambda: resolve.login(
                    info.context, username_or_email=input.username_or_email, password=input.password
                ),
            )
        )

    @strawberry.mutation(description="Trade a refresh token (once) for a new token pair.")
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> AuthPayload:
        return AuthPayload.of(
            await guarded(
                info, lambda: resolve.refresh(info.context, refresh_token=input.refresh_token)
            )
        )

    @strawberry.mutation(description="Sign out: revoke the refresh token and its family.")
    async def logout(self, info: Info, input: LogoutInput) -> LogoutPayload:
        result = await guarded(
            info, lambda: resolve.logout(info.context, refresh_token=input.refresh_token)
        )
        if isinstance(result, list):
            return LogoutPayload(errors=result)
        return LogoutPayload(revoked=result)

    @strawberry.mutation(description="Change the viewer's name, bio or privacy.")
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        avatar = input.avatar_media_id  # UNSET: keep; null: remove; an id: set
        result = await guarded(
            info,
            lambda: resolve.update_profile(
                info.context,
                full_name=input.full_name,
                bio=input.bio,
                is_private=input.is_private,
                avatar_media_id=avatar or None,
                remove_avatar=avatar is None,
            ),
        )
        if isinstance(result, list):
            return UpdateProfilePayload(errors=result)
        return UpdateProfilePayload(user=User.from_view(result))
