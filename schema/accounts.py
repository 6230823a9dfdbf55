"""register, login, refreshToken, logout, updateProfile."""

from __future__ import annotations

import strawberry

from domain.errors import ErrorCode
from domain.users.store import UserView
from domain.users.tokens import TokenPair
from resolvers import accounts as resolve
from resolvers.context import Info
from schema.errors import UserError, mutation, respond
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


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.input
class DeactivateAccountInput:
    password: str = strawberry.field(description="The account's password, to confirm.")


@strawberry.input
class DeleteAccountInput:
    password: str = strawberry.field(description="The account's password, to confirm.")


@strawberry.type
class DeactivateAccountPayload:
    deactivated: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteAccountPayload:
    deleted: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


def _deactivated(done: bool) -> DeactivateAccountPayload:
    return DeactivateAccountPayload(deactivated=done)


def _deleted(done: bool) -> DeleteAccountPayload:
    return DeleteAccountPayload(deleted=done)


@strawberry.type(description="Tokens for the signed-in user, or why sign-in failed.")
class AuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    revoked: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateProfilePayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _signed_in(result: tuple[TokenPair, UserView]) -> AuthPayload:
    pair, view = result
    return AuthPayload(
        access_token=pair.access_token, refresh_token=pair.refresh_token, user=User.from_view(view)
    )


def _revoked(revoked: bool) -> LogoutPayload:
    return LogoutPayload(revoked=revoked)


def _profile(view: UserView) -> UpdateProfilePayload:
    return UpdateProfilePayload(user=User.from_view(view))


@strawberry.type
class AccountMutation:
    @mutation(
        "Create an account and sign in.",
        errors=(
            ErrorCode.INVALID_INPUT,
            ErrorCode.USERNAME_TAKEN,
            ErrorCode.EMAIL_TAKEN,
            ErrorCode.WEAK_PASSWORD,
        ),
    )
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        return await respond(
            info,
            AuthPayload,
            lambda: resolve.register(
                info.context, username=input.username, email=input.email, password=input.password
            ),
            _signed_in,
        )

    @mutation(
        "Sign in with a username or email and a password. Signing in to an account deactivated"
        " within 30 days brings it back; a suspended one is FORBIDDEN.",
        errors=(ErrorCode.INVALID_INPUT, ErrorCode.INVALID_CREDENTIALS, ErrorCode.FORBIDDEN),
    )
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        return await respond(
            info,
            AuthPayload,
            lambda: resolve.login(
                info.context, username_or_email=input.username_or_email, password=input.password
            ),
            _signed_in,
        )

    @mutation(
        "Trade a refresh token (once) for a new token pair.", errors=(ErrorCode.INVALID_TOKEN,)
    )
    async def refresh_token(self, info: Info, input: RefreshTokenInput) -> AuthPayload:
        return await respond(
            info,
            AuthPayload,
            lambda: resolve.refresh(info.context, refresh_token=input.refresh_token),
            _signed_in,
        )

    @mutation(
        "A new password. Every session of the account ends (its access tokens at once, its"
        " refresh tokens revoked); this one gets new tokens.",
        errors=(
            ErrorCode.UNAUTHENTICATED,
            ErrorCode.INVALID_CREDENTIALS,
            ErrorCode.WEAK_PASSWORD,
        ),
    )
    async def change_password(self, info: Info, input: ChangePasswordInput) -> AuthPayload:
        return await respond(
            info,
            AuthPayload,
            lambda: resolve.change_password(
                info.context,
                current_password=input.current_password,
                new_password=input.new_password,
            ),
            _signed_in,
        )

    @mutation(
        "Hide the account everywhere and sign it out everywhere; signing in within 30 days"
        " brings it back, after that it is deleted.",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_CREDENTIALS),
    )
    async def deactivate_account(
        self, info: Info, input: DeactivateAccountInput
    ) -> DeactivateAccountPayload:
        return await respond(
            info,
            DeactivateAccountPayload,
            lambda: resolve.deactivate(info.context, password=input.password),
            _deactivated,
        )

    @mutation(
        "Delete the account for good: at once it is anonymised and signed out; its posts,"
        " media, comments, likes, follows and notifications are then removed by a job. Its"
        " messages stay in their threads, from a deleted user (sender null).",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_CREDENTIALS),
    )
    async def delete_account(self, info: Info, input: DeleteAccountInput) -> DeleteAccountPayload:
        return await respond(
            info,
            DeleteAccountPayload,
            lambda: resolve.delete_account(info.context, password=input.password),
            _deleted,
        )

    @mutation("Sign out: revoke the refresh token and its family.", errors=())
    async def logout(self, info: Info, input: LogoutInput) -> LogoutPayload:
        return await respond(
            info,
            LogoutPayload,
            lambda: resolve.logout(info.context, refresh_token=input.refresh_token),
            _revoked,
        )

    @mutation(
        "Change the viewer's name, bio, privacy or avatar.",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.INVALID_INPUT),
    )
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UpdateProfilePayload:
        avatar = input.avatar_media_id  # UNSET: keep; null: remove; an id: set
        return await respond(
            info,
            UpdateProfilePayload,
            lambda: resolve.update_profile(
                info.context,
                full_name=input.full_name,
                bio=input.bio,
                is_private=input.is_private,
                avatar_media_id=avatar or None,
                remove_avatar=avatar is None,
            ),
            _profile,
        )
