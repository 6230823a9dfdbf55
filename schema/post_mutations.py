"""Post mutations: createPost, createReel, editPost, deletePost, likes, saves, comments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from domain.errors import ErrorCode
from domain.posts.store import CommentView, PostView
from resolvers import posts as resolve
from resolvers.context import Info
from schema.errors import UserError, mutation, respond
from schema.posts import Comment, Post, build_post


@strawberry.input
class CreatePostInput:
    media_ids: list[strawberry.ID]
    caption: str = ""


@strawberry.input
class CreateReelInput:
    media_id: strawberry.ID
    caption: str = ""


@strawberry.input
class EditPostInput:
    post_id: strawberry.ID
    caption: str


@strawberry.input
class _PostTarget:
    post_id: strawberry.ID


@strawberry.input
class DeletePostInput(_PostTarget):
    pass


@strawberry.input
class LikePostInput(_PostTarget):
    pass


@strawberry.input
class UnlikePostInput(_PostTarget):
    pass


@strawberry.input
class SavePostInput(_PostTarget):
    pass


@strawberry.input
class UnsavePostInput(_PostTarget):
    pass


@strawberry.input
class AddCommentInput:
    post_id: strawberry.ID
    text: str
    reply_to_id: strawberry.ID | None = None


@strawberry.input
class _CommentTarget:
    comment_id: strawberry.ID


@strawberry.input
class DeleteCommentInput(_CommentTarget):
    pass


@strawberry.input
class LikeCommentInput(_CommentTarget):
    pass


@strawberry.input
class UnlikeCommentInput(_CommentTarget):
    pass


@strawberry.type
class PostPayload:
    post: Post | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CommentPayload:
    comment: Comment | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _post(info: Info) -> Callable[[PostView], Awaitable[PostPayload]]:
    async def fill(view: PostView) -> PostPayload:
        return PostPayload(post=await build_post(info, view))

    return fill


def _deleted(deleted_id: str) -> DeletePayload:
    return DeletePayload(deleted_id=strawberry.ID(deleted_id))


def _comment(view: CommentView) -> CommentPayload:
    return CommentPayload(comment=Comment.from_view(view))


# The codes of every action on a post or comment named by id.
_TARGET = (ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.NOT_FOUND)


@strawberry.type
class PostMutation:
    @mutation(
        "A photo (one READY media) or a carousel (2 to 10).",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.INVALID_INPUT),
    )
    async def create_post(self, info: Info, input: CreatePostInput) -> PostPayload:
        return await respond(
            info,
            PostPayload,
            lambda: resolve.create_post(
                info.context, media_ids=list(input.media_ids), caption=input.caption
            ),
            _post(info),
        )

    @mutation(
        "A reel: one READY video of at most 90 seconds.",
        errors=(ErrorCode.UNAUTHENTICATED, ErrorCode.INVALID_ID, ErrorCode.INVALID_INPUT),
    )
    async def create_reel(self, info: Info, input: CreateReelInput) -> PostPayload:
        return await respond(
            info,
            PostPayload,
            lambda: resolve.create_reel(
                info.context, media_id=input.media_id, caption=input.caption
            ),
            _post(info),
        )

    @mutation(
        "Change the caption (author only).",
        errors=(*_TARGET, ErrorCode.FORBIDDEN, ErrorCode.INVALID_INPUT),
    )
    async def edit_post(self, info: Info, input: EditPostInput) -> PostPayload:
        return await respond(
            info,
            PostPayload,
            lambda: resolve.edit_post(info.context, post_id=input.post_id, caption=input.caption),
            _post(info),
        )

    @mutation(
        "Delete a post with its likes, comments and media (author only).",
        errors=(*_TARGET, ErrorCode.FORBIDDEN),
    )
    async def delete_post(self, info: Info, input: DeletePostInput) -> DeletePayload:
        return await respond(
            info,
            DeletePayload,
            lambda: resolve.delete_post(info.context, post_id=input.post_id),
            _deleted,
        )

    @mutation("Like a post (again: no change).", errors=_TARGET)
    async def like_post(self, info: Info, input: LikePostInput) -> PostPayload:
        return await respond(
            info,
            PostPayload,
            lambda: resolve.set_like(info.context, post_id=input.post_id, liked=True),
            _post(info),
        )

    @mutation("Take a like back (none: no change).", errors=_TARGET)
    async def unlike_post(self, info: Info, input: UnlikePostInput) -> PostPayload:
        return await respond(
            info,
            PostPayload,
            lambda: resolve.set_like(info.context, post_id=input.post_id, liked=False),
            _post(info),
        )

    @mutation("Save a post for later, privately.", errors=_TARGET)
    async def save_post(self, info: Info, input: SavePostInput) -> PostPayload:
        return await respond(
            info,
            PostPayload,
            lambda: resolve.set_save(info.context, post_id=input.post_id, saved=True),
            _post(info),
        )

    @mutation("Remove a post from the saved ones.", errors=_TARGET)
    async def unsave_post(self, info: Info, input: UnsavePostInput) -> PostPayload:
        return await respond(
            info,
            PostPayload,
            lambda: resolve.set_save(info.context, post_id=input.post_id, saved=False),
            _post(info),
        )

    @mutation(
        "Comment on a post, or reply to a comment (one level).",
        errors=(*_TARGET, ErrorCode.INVALID_INPUT),
    )
    async def add_comment(self, info: Info, input: AddCommentInput) -> CommentPayload:
        return await respond(
            info,
            CommentPayload,
            lambda: resolve.add_comment(
                info.context,
                post_id=input.post_id,
                text=input.text,
                reply_to_id=input.reply_to_id,
            ),
            _comment,
        )

    @mutation(
        "By the comment's author or the post's author.", errors=(*_TARGET, ErrorCode.FORBIDDEN)
    )
    async def delete_comment(self, info: Info, input: DeleteCommentInput) -> DeletePayload:
        return await respond(
            info,
            DeletePayload,
            lambda: resolve.delete_comment(info.context, comment_id=input.comment_id),
            _deleted,
        )

    @mutation("Like a comment (again: no change).", errors=_TARGET)
    async def like_comment(self, info: Info, input: LikeCommentInput) -> CommentPayload:
        return await respond(
            info,
            CommentPayload,
            lambda: resolve.set_comment_like(info.context, comment_id=input.comment_id, liked=True),
            _comment,
        )

    @mutation("Take a comment's like back.", errors=_TARGET)
    async def unlike_comment(self, info: Info, input: UnlikeCommentInput) -> CommentPayload:
        return await respond(
            info,
            CommentPayload,
            lambda: resolve.set_comment_like(
                info.context, comment_id=input.comment_id, liked=False
            ),
            _comment,
        )
