"""Posts, comments, hashtags: visibility checks, argument mapping, and the post mutations."""

from __future__ import annotations

from domain.errors import ErrorCode, not_found
from domain.graph.visibility import may_see_posts
from domain.pagination import Page
from domain.posts import flows, queries
from domain.posts import service as posts
from domain.posts.queries import HashtagView
from domain.posts.store import CommentView, PostView
from domain.users.store import UserView
from resolvers.context import Context
from resolvers.errors import ClientError
from resolvers.global_ids import both_ways_arguments, id_input, page_arguments


async def can_see_posts_of(ctx: Context, author_id: int) -> bool:
    """The visibility rule (domain/graph/visibility) on the request's loaded facts."""
    if ctx.viewer_id == author_id:
        return True
    author = await ctx.loaders.user.load(author_id)
    if author is None:
        return False
    blocked = await ctx.loaders.blocked_with_viewer.load(author_id)
    status = (
        await ctx.loaders.viewer_follow_status.load(author_id)
        if author.is_private and not blocked
        else None
    )
    return may_see_posts(
        viewer_id=ctx.viewer_id,
        author_id=author_id,
        author_private=author.is_private,
        blocked_either_way=blocked,
        viewer_follow_status=status,
    )


async def visible_post(ctx: Context, post_id: int) -> PostView | None:
    post = await ctx.loaders.post.load(post_id)
    if post is None or not await can_see_posts_of(ctx, post.author_id):
        return None
    if post.hidden and post.author_id != ctx.viewer_id:
        return None  # held for review: its author's only
    return post


async def visible_comment(ctx: Context, comment_id: int) -> CommentView | None:
    comment = await ctx.loaders.comment.load(comment_id)
    if comment is None or await ctx.loaders.blocked_with_viewer.load(comment.author_id):
        return None
    if await ctx.loaders.user.load(comment.author_id) is None:
        return None  # its author's account is gone
    if comment.hidden and comment.author_id != ctx.viewer_id:
        return None  # held for review
    return comment if await visible_post(ctx, comment.post_id) else None


async def page_posts(ctx: Context, page: Page) -> list[PostView | None]:
    """The page's posts, one per entry, None where it is gone (every list of posts has
    filtered for the viewer already, in its query or its author check)."""
    return await ctx.loaders.post.load_many(page.ids)


async def user_posts(
    ctx: Context, user: UserView, first: int | None, after: str | None, *, reels: bool = False
) -> Page:
    limit, position = page_arguments(first, after)
    if not await can_see_posts_of(ctx, user.id):
        return Page([], False)
    return await queries.author_posts(
        author_id=user.id, first=limit, after=position, kinds=["REEL"] if reels else None
    )


async def saved_posts(ctx: Context, user: UserView, first: int | None, after: str | None) -> Page:
    limit, position = page_arguments(first, after)
    if ctx.viewer_id != user.id:
        raise ClientError("Saved posts are only for their owner.", code=ErrorCode.FORBIDDEN)
    return await queries.saved_posts(user_id=user.id, first=limit, after=position)


async def hashtag(ctx: Context, name: str) -> HashtagView | None:
    return await queries.hashtag_by_name(name)


async def hashtag_posts(
    ctx: Context, tag: HashtagView, first: int | None, after: str | None
) -> Page:
    limit, position = page_arguments(first, after)
    return await queries.hashtag_posts(
        hashtag_id=tag.id, viewer_id=ctx.viewer_id, first=limit, after=position
    )


async def search_hashtags(
    ctx: Context, query: str, first: int | None, after: str | None
) -> tuple[Page, dict[int, HashtagView]]:
    limit, position = page_arguments(first, after)
    return await queries.search_hashtags(prefix=query, first=limit, after=position)


async def comments(
    ctx: Context,
    post: PostView,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Page:
    limit, position, backward = both_ways_arguments(first, after, last, before)
    return await queries.comments(
        post_id=post.id, viewer_id=ctx.viewer_id, first=limit, after=position, backward=backward
    )


async def replies(ctx: Context, comment: CommentView, first: int | None, after: str | None) -> Page:
    limit, position = page_arguments(first, after)
    return await queries.replies(
        comment_id=comment.id,
        post_id=comment.post_id,
        viewer_id=ctx.viewer_id,
        first=limit,
        after=position,
    )


# Mutations.


async def _target_post(ctx: Context, global_id: str) -> PostView:
    post_id = id_input(global_id, "Post", field="postId")
    post = await visible_post(ctx, post_id)
    if post is None:
        raise not_found("post", field="postId")
    return post


async def _reread(ctx: Context, post_id: int) -> PostView:
    ctx.loaders.forget_keys(ctx.loaders.post, post_id)
    for loader in (ctx.loaders.viewer_liked, ctx.loaders.viewer_saved):
        ctx.loaders.forget_keys(loader, post_id)
    post = await ctx.loaders.post.load(post_id)
    assert post is not None, "a post just written must be readable"
    return post


async def create_post(ctx: Context, *, media_ids: list[str], caption: str) -> PostView:
    viewer = ctx.signed_in()
    raw_ids = [id_input(m, "Media", field="mediaIds") for m in media_ids]
    async with ctx.spending("post"):
        post_id = await flows.create_post(
            author_id=viewer,
            media_ids=raw_ids,
            caption=caption,
            stores=ctx.runtime.post_stores,
            ports=ctx.runtime.ports,
        )
    return await _reread(ctx, post_id)


async def create_reel(ctx: Context, *, media_id: str, caption: str) -> PostView:
    viewer = ctx.signed_in()
    raw_id = id_input(media_id, "Media", field="mediaId")
    async with ctx.spending("post"):
        post_id = await flows.create_post(
            author_id=viewer,
            media_ids=[raw_id],
            caption=caption,
            stores=ctx.runtime.post_stores,
            ports=ctx.runtime.ports,
            reel=True,
        )
    return await _reread(ctx, post_id)


async def edit_post(ctx: Context, *, post_id: str, caption: str) -> PostView:
    viewer = ctx.signed_in()
    post = await _target_post(ctx, post_id)
    await posts.edit_post(
        post_id=post.id, viewer_id=viewer, caption=caption, stores=ctx.runtime.post_stores
    )
    return await _reread(ctx, post.id)


async def delete_post(ctx: Context, *, post_id: str) -> str:
    viewer = ctx.signed_in()
    post = await _target_post(ctx, post_id)
    await flows.delete_post(
        post_id=post.id, viewer_id=viewer, stores=ctx.runtime.post_stores, ports=ctx.runtime.ports
    )
    return post_id


async def set_like(ctx: Context, *, post_id: str, liked: bool) -> PostView:
    viewer = ctx.signed_in()
    post = await _target_post(ctx, post_id)
    await flows.set_like(
        user_id=viewer,
        post=post,
        liked=liked,
        stores=ctx.runtime.post_stores,
        ports=ctx.runtime.ports,
    )
    return await _reread(ctx, post.id)


async def set_save(ctx: Context, *, post_id: str, saved: bool) -> PostView:
    viewer = ctx.signed_in()
    post = await _target_post(ctx, post_id)
    await posts.set_save(user_id=viewer, post_id=post.id, saved=saved, redis=ctx.runtime.redis)
    return await _reread(ctx, post.id)


async def add_comment(
    ctx: Context, *, post_id: str, text: str, reply_to_id: str | None
) -> CommentView:
    viewer = ctx.signed_in()
    post = await _target_post(ctx, post_id)
    reply_to = id_input(reply_to_id, "Comment", field="replyToId") if reply_to_id else None
    async with ctx.spending("comment"):
        comment_id = await flows.add_comment(
            author_id=viewer,
            post=post,
            text=text,
            reply_to_id=reply_to,
            stores=ctx.runtime.post_stores,
            ports=ctx.runtime.ports,
        )
    comment = await ctx.loaders.comment.load(comment_id)
    assert comment is not None
    return comment


async def _target_comment(ctx: Context, global_id: str) -> CommentView:
    comment_id = id_input(global_id, "Comment", field="commentId")
    comment = await visible_comment(ctx, comment_id)
    if comment is None:
        raise not_found("comment", field="commentId")
    return comment


async def delete_comment(ctx: Context, *, comment_id: str) -> str:
    viewer = ctx.signed_in()
    comment = await _target_comment(ctx, comment_id)
    await posts.delete_comment(
        comment_id=comment.id, viewer_id=viewer, stores=ctx.runtime.post_stores
    )
    return comment_id


async def set_comment_like(ctx: Context, *, comment_id: str, liked: bool) -> CommentView:
    viewer = ctx.signed_in()
    comment = await _target_comment(ctx, comment_id)
    await posts.set_comment_like(
        user_id=viewer, comment_id=comment.id, liked=liked, redis=ctx.runtime.redis
    )
    ctx.loaders.forget_keys(ctx.loaders.comment, comment.id)
    ctx.loaders.forget_keys(ctx.loaders.viewer_liked_comment, comment.id)
    fresh = await ctx.loaders.comment.load(comment.id)
    assert fresh is not None
    return fresh
