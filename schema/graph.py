"""follow, unfollow, approveFollowRequest, rejectFollowRequest, removeFollower, block, unblock."""

from __future__ import annotations

from enum import Enum

import strawberry

from domain.graph.models import FollowStatus as DomainFollowStatus
from domain.users.store import UserView
from resolvers import users as resolve
from resolvers.context import Info
from schema.errors import UserError, guarded
from schema.user import User


@strawberry.enum(description="ACTIVE: following now; PENDING: waiting for a private account.")
class FollowStatus(Enum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"


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
    status: FollowStatus | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="The account acted on, as the viewer now sees it.")
class UserPayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: UserView | list[UserError] | None) -> UserPayload:
        if isinstance(result, list):
            return cls(errors=result)
        return cls(user=User.maybe(result))


@strawberry.type
class BlockPayload:
    blocked: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class GraphMutation:
    @strawberry.mutation(description="Follow an account; a private one gets a request instead.")
    async def follow(self, info: Info, input: FollowInput) -> FollowPayload:
        result = await guarded(info, lambda: resolve.follow(info.context, input.user_id))
        if isinstance(result, list):
            return FollowPayload(errors=result)
        status, view = result
        state = FollowStatus.ACTIVE if status is DomainFollowStatus.ACTIVE else FollowStatus.PENDING
        return FollowPayload(status=state, user=User.maybe(view))

    @strawberry.mutation(description="Stop following, or withdraw a follow request.")
    async def unfollow(self, info: Info, input: UnfollowInput) -> UserPayload:
        return UserPayload.of(
            await guarded(info, lambda: resolve.unfollow(info.context, input.user_id))
        )

    @strawberry.mutation(description="Let a requester follow the viewer's private account.")
    async def approve_follow_request(
        self, info: Info, input: ApproveFollowRequestInput
    ) -> UserPayload:
        return UserPayload.of(
            await guarded(info, lambda: resolve.approve_request(info.context, input.user_id))
        )

    @strawberry.mutation(description="Turn down a follow request.")
    async def reject_follow_request(
        self, info: Info, input: RejectFollowRequestInput
    ) -> UserPayload:
        return UserPayload.of(
            await guarded(info, lambda: resolve.reject_request(info.context, input.user_id))
        )

    @strawberry.mutation(description="Remove an account from the viewer's followers.")
    async def remove_follower(self, info: Info, input: RemoveFollowerInput) -> UserPayload:
        return UserPayload.of(
            await guarded(info, lambda: resolve.remove_follower(info.context, input.user_id))
        )

    @strawberry.mutation(description="Block an account: follows end both ways, each is hidden.")
    async def block(self, info: Info, input: BlockInput) -> BlockPayload:
        result = await guarded(info, lambda: resolve.block(info.context, input.user_id))
        if isinstance(result, list):
            return BlockPayload(errors=result)
        return BlockPayload(blocked=True)

    @strawberry.mutation(description="Unblock an account.")
    async def unblock(self, info: Info, input: UnblockInput) -> UserPayload:
        return UserPayload.of(
            await guarded(info, lambda: resolve.unblock(info.context, input.user_id))
        )
