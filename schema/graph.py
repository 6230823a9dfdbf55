"""follow, unfollow, approveFollowRequest, rejectFollowRequest, removeFollower, block, unblock."""

from __future__ import annotations

import strawberry

from domain.errors import ErrorCode
from domain.graph.models import FollowStatus as DomainFollowStatus
from domain.users.store import UserView
from resolvers import users as resolve
from resolvers.context import Info
from schema.errors import UserError, mutation, respond
from schema.user import FollowState, User


@strawberry.input
class _AccountInput:
    user_id: strawberry.ID


# One input type per mutation (Relay's convention), so each can grow on its own.
@strawberry.input
class FollowInput(_AccountInput):
    pass


@strawberry.input
class UnfollowInput(_AccountInput):
    pass


@strawberry.input
class ApproveFollowRequestInput(_AccountInput):
    pass


@strawberry.input
class RejectFollowRequestInput(_AccountInput):
    pass


@strawberry.input
class RemoveFollowerInput(_AccountInput):
    pass


@strawberry.input
class BlockInput(_AccountInput):
    pass


@strawberry.input
class UnblockInput(_AccountInput):
    pass


@strawberry.type
class FollowPayload:
    status: FollowState | None = strawberry.field(
        default=None, description="ACTIVE: following now; PENDING: waiting for a private account."
    )
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="The account acted on, as the viewer now sees it.")
class UserPayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(
    description="block and unblock: whether the account is blocked now, and the account as the"
    " viewer now sees it (after a block, null: each is hidden from the other)."
)
class BlockPayload:
    blocked: bool = False
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _followed(result: tuple[DomainFollowStatus, UserView | None]) -> FollowPayload:
    status, view = result
    state = FollowState.ACTIVE if status is DomainFollowStatus.ACTIVE else FollowState.PENDING
    return FollowPayload(status=state, user=User.maybe(view))


def _user(view: UserView | None) -> UserPayload:
    return UserPayload(user=User.maybe(view))


def _blocked(_: None) -> BlockPayload:
    return BlockPayload(blocked=True)


def _unblocked(view: UserView | None) -> BlockPayload:
    return BlockPayload(blocked=False, user=User.maybe(view))


# The codes of every action on an account named by id.
_TARGET = (ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND)


@strawberry.type
class GraphMutation:
    @mutation(
        "Follow an account; a private one gets a request instead.",
        errors=(*_TARGET, ErrorCode.CANNOT_FOLLOW_SELF, ErrorCode.BLOCKED),
    )
    async def follow(self, info: Info, input: FollowInput) -> FollowPayload:
        return await respond(
            info, FollowPayload, lambda: resolve.follow(info.context, input.user_id), _followed
        )

    @mutation("Stop following, or withdraw a follow request.", errors=_TARGET)
    async def unfollow(self, info: Info, input: UnfollowInput) -> UserPayload:
        return await respond(
            info, UserPayload, lambda: resolve.unfollow(info.context, input.user_id), _user
        )

    @mutation("Let a requester follow the viewer's private account.", errors=_TARGET)
    async def approve_follow_request(
        self, info: Info, input: ApproveFollowRequestInput
    ) -> UserPayload:
        return await respond(
            info, UserPayload, lambda: resolve.approve_request(info.context, input.user_id), _user
        )

    @mutation("Turn down a follow request.", errors=_TARGET)
    async def reject_follow_request(
        self, info: Info, input: RejectFollowRequestInput
    ) -> UserPayload:
        return await respond(
            info, UserPayload, lambda: resolve.reject_request(info.context, input.user_id), _user
        )

    @mutation("Remove an account from the viewer's followers.", errors=_TARGET)
    async def remove_follower(self, info: Info, input: RemoveFollowerInput) -> UserPayload:
        return await respond(
            info, UserPayload, lambda: resolve.remove_follower(info.context, input.user_id), _user
        )

    @mutation(
        "Block an account: follows end both ways, each is hidden.",
        errors=(*_TARGET, ErrorCode.CANNOT_BLOCK_SELF),
    )
    async def block(self, info: Info, input: BlockInput) -> BlockPayload:
        return await respond(
            info, BlockPayload, lambda: resolve.block(info.context, input.user_id), _blocked
        )

    @mutation("Unblock an account.", errors=_TARGET)
    async def unblock(self, info: Info, input: UnblockInput) -> BlockPayload:
        return await respond(
            info, BlockPayload, lambda: resolve.unblock(info.context, input.user_id), _unblocked
        )
