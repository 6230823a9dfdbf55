"""Sign-up, sign-in, tokens and profile edits."""

from __future__ import annotations

from domain.ratelimit import check_rate, refund
from domain.users import flows, lifecycle, tokens
from domain.users import service as users
from domain.users.store import UserView
from resolvers.context import Context
from resolvers.global_ids import id_input


async def _tokens_for(ctx: Context, user_id: int) -> tokens.TokenPair:
    settings = ctx.runtime.settings
    return await tokens.issue_tokens(
        user_id=user_id,
        secret=settings.jwt_secret,
        access_ttl=settings.access_token_ttl_seconds,
        refresh_ttl=settings.refresh_token_ttl_seconds,
    )


async def _auth_attempt(ctx: Context, what: str, *, account: str | None = None) -> list[str]:
    """Count an attempt against the address (and the account it names); returns the keys to
    `refund` when it succeeds: failures are what count, so a client that signs many people in
    correctly (a test suite on localhost) is never locked out, while guessing is. An account
    takes LOGIN_MAX_FAILURES failures from all addresses together in LOGIN_LOCK_SECONDS;
    past that it is locked (the right password too is refused) until the window ends."""
    settings = ctx.runtime.settings
    redis = ctx.runtime.redis
    limit = settings.auth_rate_limit_per_minute
    keys = [await check_rate(redis, bucket=f"auth:{what}:{ctx.client_ip}", limit=limit)]
    if account is not None:
        bucket = f"auth:{what}:account:{account.strip().lower()}"
        try:
            keys.append(
                await check_rate(
                    redis,
                    bucket=bucket,
                    limit=settings.login_max_failures,
                    window_seconds=settings.login_lock_seconds,
                    message="Too many failed sign-ins to this account; it is locked for a"
                    " while. Try again in {seconds} s.",
                )
            )
        except BaseException:
            await refund(redis, *keys)
            raise
    return keys


async def _succeeded(ctx: Context, keys: list[str]) -> None:
    """A success: its address hit is given back, and the account's failures are forgotten."""
    address, *accounts = keys
    await refund(ctx.runtime.redis, address)
    if accounts:
        await ctx.runtime.redis.delete(*accounts)


async def _view(ctx: Context, user_id: int) -> UserView:
    view = await ctx.loaders.user.load(user_id)
    assert view is not None, "a user we just wrote must be readable"
    return view


async def register(
    ctx: Context, *, username: str, email: str, password: str
) -> tuple[tokens.TokenPair, UserView]:
    attempt = await _auth_attempt(ctx, "register")
    user = await users.register(username=username, email=email, password=password)
    await refund(ctx.runtime.redis, *attempt)
    return await _tokens_for(ctx, user.id), await _view(ctx, user.id)


async def login(
    ctx: Context, *, username_or_email: str, password: str
) -> tuple[tokens.TokenPair, UserView]:
    attempt = await _auth_attempt(ctx, "login", account=username_or_email)
    user = await users.authenticate(username_or_email=username_or_email, password=password)
    await lifecycle.reactivate_if_returning(user, users=ctx.runtime.users)
    await _succeeded(ctx, attempt)
    return await _tokens_for(ctx, user.id), await _view(ctx, user.id)


async def change_password(
    ctx: Context, *, current_password: str, new_password: str
) -> tuple[tokens.TokenPair, UserView]:
    """A new password; every other session ends, and this one gets new tokens."""
    viewer = ctx.signed_in()
    attempt = await _auth_attempt(ctx, "password", account=str(viewer))
    await lifecycle.change_password(
        user_id=viewer,
        current_password=current_password,
        new_password=new_password,
        users=ctx.runtime.users,
    )
    await _succeeded(ctx, attempt)
    ctx.loaders.forget(viewer)
    return await _tokens_for(ctx, viewer), await _view(ctx, viewer)


async def deactivate(ctx: Context, *, password: str) -> bool:
    viewer = ctx.signed_in()
    attempt = await _auth_attempt(ctx, "password", account=str(viewer))
    await lifecycle.deactivate(user_id=viewer, password=password, users=ctx.runtime.users)
    await _succeeded(ctx, attempt)
    return True


async def delete_account(ctx: Context, *, password: str) -> bool:
    viewer = ctx.signed_in()
    attempt = await _auth_attempt(ctx, "password", account=str(viewer))
    await flows.delete_account(
        user_id=viewer, password=password, users=ctx.runtime.users, ports=ctx.runtime.ports
    )
    await _succeeded(ctx, attempt)
    return True


async def refresh(ctx: Context, *, refresh_token: str) -> tuple[tokens.TokenPair, UserView]:
    attempt = await _auth_attempt(ctx, "refresh")
    settings = ctx.runtime.settings
    pair = await tokens.rotate_refresh_token(
        refresh_token=refresh_token,
        secret=settings.jwt_secret,
        access_ttl=settings.access_token_ttl_seconds,
        refresh_ttl=settings.refresh_token_ttl_seconds,
    )
    await refund(ctx.runtime.redis, *attempt)
    return pair, await _view(ctx, pair.user_id)


async def logout(ctx: Context, *, refresh_token: str) -> bool:
    return await tokens.revoke_refresh_token(refresh_token=refresh_token)


async def update_profile(
    ctx: Context,
    *,
    full_name: str | None,
    bio: str | None,
    is_private: bool | None,
    avatar_media_id: str | None,
    remove_avatar: bool,
) -> UserView:
    viewer = ctx.signed_in()
    avatar = id_input(avatar_media_id, "Media", field="avatarMediaId") if avatar_media_id else None
    await flows.update_profile(
        user_id=viewer,
        users=ctx.runtime.users,
        ports=ctx.runtime.ports,
        full_name=full_name,
        bio=bio,
        is_private=is_private,
        avatar_media_id=avatar,
        remove_avatar=remove_avatar,
    )
    ctx.loaders.forget(viewer)
    return await _view(ctx, viewer)
