"""Post mutations: createPost, createReel, editPost, deletePost, likes, saves, comments."""

from __future__ import annotations

import strawberry

from domain.posts.store import CommentView, PostView
from resolvers import posts as resolve
from resolvers.context import Info
from schema.errors import UserError, guarded
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

    @classmethod
    async def of(cls, info: Info, result: PostView | list[UserError]) -> PostPayload:
        if isinstance(result, list):
            return cls(errors=result)
        return cls(post=await build_post(info, result))


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: str | list[UserError]) -> DeletePayload:
        if isinstance(result, list):
            return cls(errors=result)
        return cls(deleted_id=strawberry.ID(result))


@strawberry.type
class CommentPayload:
    comment: Comment | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: CommentView | list[UserError]) -> CommentPayload:
        if isinstance(result, list):
            return cls(errors=result)
        return cls(comment=Comment.from_view(result))


@strawberry.type
class PostMutation:
    @strawberry.mutation(description="A photo (one READY media) or a carousel (2 to 10).")
    async def create_post(self, info: Info, input: CreatePostInput) -> PostPayload:
        return await PostPayload.of(
            info,
            await guarded(
                info,
                lambda: resolve.create_post(
                    info.context, media_ids=list(input.media_ids), caption=input.caption
                ),
            ),
        )

    @strawberry.mutation(description="A reel: one READY video of at most 90 seconds.")
    async def create_reel(self, info: Info, input: CreateReelInput) -> PostPayload:
        return await PostPayload.of(
            info,
            await guarded(
                info,
                lambda: resolve.create_reel(
                    info.context, media_id=input.media_id, caption=input.caption
                ),
            ),
        )

    @strawberry.mutation(description="Change the caption (author only).")
    async def edit_post(self, info: Info, input: EditPostInput) -> PostPayload:
        return await PostPayload.of(
            info,
            await guarded(
                info,
                lambda: resolve.edit_post(
                    info.context, post_id=input.post_id, caption=input.caption
                ),
            ),
        )

    @strawberry.mutation(description="Delete a post with its likes, comments and media.")
    async def delete_post(self, info: Info, input: DeletePostInput) -> DeletePayload:
        return DeletePayload.of(
            await guarded(info, lambda: resolve.delete_post(info.context, post_id=input.post_id))
        )

    @strawberry.mutation
    async def like_post(self, info: Info, input: LikePostInput) -> PostPayload:
        return await PostPayload.of(
            info,
            await guarded(
                info, lambda: resolve.set_like(info.context, post_id=input.post_id, liked=True)
            ),
        )

    @strawberry.mutation
    async def unlike_post(self, info: Info, input: UnlikePostInput) -> PostPayload:
        return await PostPayload.of(
            info,
            await guarded(
                info, lambda: resolve.set_like(info.context, post_id=input.post_id, liked=False)
            ),
        )

    @strawberry.mutation
    async def save_post(self, info: Info, input: SavePostInput) -> PostPayload:
        return await PostPayload.of(
            info,
            await guarded(
                info, lambda: resolve.set_save(info.context, post_id=input.post_id, saved=True)
            ),
        )

    @strawberry.mutation
    async def unsave_post(self, info: Info, input: UnsavePostInput) -> PostPayload:
        return await PostPayload.of(
            info,
            await guarded(
                info, lambda: resolve.set_save(info.context, post_id=input.post_id, saved=False)
            ),
        )

    @strawberry.mutation(description="Comment on a post, or reply to a comment (one level).")
    async def add_comment(self, info: Info, input: AddCommentInput) -> CommentPayload:
        return CommentPayload.of(
            await guarded(
                info,
                lambda: resolve.add_comment(
                    info.context,
                    post_id=input.post_id,
                    text=input.text,
                    reply_to_id=input.reply_to_id,
                ),
            )
        )

    @strawberry.mutation(description="By the comment's author or the post's author.")
    async def delete_comment(self, info: Info, input: DeleteCommentInput) -> DeletePayload:
        return DeletePayload.of(
            await guarded(
                info, lambda: resolve.delete_comment(info.context, comment_id=input.comment_id)
            )
        )

    @strawberry.mutation
    async def like_comment(self, info: Info, input: LikeCommentInput) -> CommentPayload:
        return CommentPayload.of(
            await guarded(
                info,
                lambda: resolve.set_comment_like(
                    info.context, comment_id=input.comment_id, liked=True
                ),
            )
        )

    @strawberry.mutation
    async def unlike_comment(self, info: Info, input: UnlikeCommentInput) -> CommentPayload:
        return CommentPayload.of(
            await guarded(
                info,
                lambda: resolve.set_comment_like(
                    info.context, comment_id=input.comment_id, liked=False
                ),
            )
        )
