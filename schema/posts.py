"""Post, Comment and Hashtag, and their connections."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum

import strawberry

from domain.cache import remember
from domain.media.store import MediaView
from domain.pagination import Page
from domain.posts.queries import HashtagView
from domain.posts.store import CommentView, PostView
from domain.users.store import UserView
from resolvers import posts as resolve
from resolvers.context import Info
from resolvers.global_ids import to_global_id
from schema.media import Media
from schema.node import Node
from schema.pagination import Connection
from schema.user import User


@strawberry.enum
class PostKind(Enum):
    PHOTO = "PHOTO"
    CAROUSEL = "CAROUSEL"
    REEL = "REEL"


@strawberry.type(description="A photo, a carousel of up to 10, or a reel.")
class Post(Node):
    raw: strawberry.Private[PostView]
    kind: PostKind
    caption: str
    hashtags: list[str]
    like_count: int
    comment_count: int
    save_count: int
    view_count: int = strawberry.field(description="Times it was seen (logViews).")
    play_count: int | None = strawberry.field(
        description="Of a reel: views that played it; null for photos."
    )
    created_at: datetime
    edited_at: datetime | None
    # Loaded for a whole page at once (see build_posts) and set as plain values: a field with
    # a resolver costs Strawberry several times more per post than an attribute does.
    author: User
    media: list[Media] = strawberry.field(description="In display order.")

    @classmethod
    def from_view(cls, view: PostView, *, author: UserView, media: list[MediaView]) -> Post:
        return cls(
            id=strawberry.ID(to_global_id("Post", view.id)),
            raw=view,
            kind=PostKind(view.kind),
            caption=view.caption,
            hashtags=view.hashtags,
            like_count=view.like_count,
            comment_count=view.comment_count,
            save_count=view.save_count,
            view_count=view.view_count,
            play_count=view.play_count if view.kind == "REEL" else None,
            created_at=view.created_at,
            edited_at=view.edited_at,
            author=User.from_view(author),
            media=[Media.from_view(v) for v in media],
        )

    @strawberry.field(description="Accounts @mentioned in the caption.")
    async def mentions(self, info: Info) -> list[User]:
        views = await info.context.loaders.user.load_many(self.raw.mention_ids)
        blocked = await info.context.loaders.blocked_with_viewer.load_many(self.raw.mention_ids)
        return [User.from_view(v) for v, b in zip(views, blocked, strict=True) if v and not b]

    @strawberry.field
    async def viewer_has_liked(self, info: Info) -> bool:
        return await info.context.loaders.viewer_liked.load(self.raw.id)

    @strawberry.field
    async def viewer_has_saved(self, info: Info) -> bool:
        return await info.context.loaders.viewer_saved.load(self.raw.id)

    @strawberry.field(
        description="Top-level comments, newest first (replies are under each comment's"
        " `replies`, oldest first). Page forward with first/after (older comments), or backward"
        " with last/before (the newer ones before a cursor; `last` alone: the oldest)."
    )
    async def comments(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Comment]:
        page = await resolve.comments(info.context, self.raw, first, after, last, before)
        return await comment_connection(info, page)


async def post_connection(info: Info, page: Page, *, total: int | None = None) -> Connection[Post]:
    """A page of posts, each built with its author and media (one batch each)."""
    views = await resolve.page_posts(info.context, page)
    built = iter(await build_posts(info, [view for view in views if view]))
    return Connection.of(page, [next(built) if view else None for view in views], total=total)


async def build_posts(
    info: Info,
    views: list[PostView],
    *,
    authors: dict[int, UserView] | None = None,
    media: dict[int, MediaView] | None = None,
) -> list[Post | None]:
    """Post objects for a page of views, with every author and media item loaded in one
    batch each (two batches for the page, however many posts); `authors` (and `media`, all or
    some) when the caller has them already. None for a post whose author is gone (an account
    deactivated, suspended or deleted since the page was made), or that is held for review
    (to anyone but its author)."""
    loaders = info.context.loaders
    media_ids = [m for v in views for m in v.media_ids]
    if authors is None:
        found, found_media = await asyncio.gather(
            loaders.user.load_many([v.author_id for v in views]), loaders.media.load_many(media_ids)
        )
        authors = {a.id: a for a in found if a is not None}
        by_id = {m.id: m for m in found_media if m is not None}
    else:
        # A page read whole already (the feed), with its media or most of them: one read of
        # the rest, without the loader's per-key bookkeeping; the loader is handed them all
        # for later fields.
        by_id = dict(media or {})
        missing = [m for m in media_ids if m not in by_id]
        if missing:
            by_id.update(await info.context.runtime.media.get_many(missing))
        loaders.prime(loaders.media, by_id)
    viewer = info.context.viewer_id
    return [
        _post(view, author, [by_id[m] for m in view.media_ids if m in by_id])
        if (author := authors.get(view.author_id)) and (not view.hidden or view.author_id == viewer)
        else None
        for view in views
    ]


BUILT_POSTS = 4_096  # in each process
_built: dict[int, tuple[PostView, UserView, list[MediaView], Post]] = {}


def _post(view: PostView, author: UserView, media: list[MediaView]) -> Post:
    """The Post for these views: the one built last time when they are the very same objects
    (the row caches hand out one view per cached row while it is unchanged, so a hot post is
    built once, not once per reader). Nothing changes a Post once built, so it can be shared."""
    built = _built.get(view.id)
    if (
        built is not None
        and built[0] is view
        and built[1] is author
        and len(built[2]) == len(media)
        and all(a is b for a, b in zip(built[2], media, strict=True))
    ):
        return built[3]
    post = Post.from_view(view, author=author, media=media)
    remember(_built, view.id, (view, author, media, post), limit=BUILT_POSTS)
    return post


async def build_post(info: Info, view: PostView | None) -> Post | None:
    return (await build_posts(info, [view]))[0] if view is not None else None


@strawberry.type
class Comment(Node):
    raw: strawberry.Private[CommentView]
    text: str
    like_count: int
    reply_count: int
    created_at: datetime

    @classmethod
    def from_view(cls, view: CommentView) -> Comment:
        return cls(
            id=strawberry.ID(to_global_id("Comment", view.id)),
            raw=view,
            text=view.text,
            like_count=view.like_count,
            reply_count=view.reply_count,
            created_at=view.created_at,
        )

    @strawberry.field
    async def author(self, info: Info) -> User:
        view = await info.context.loaders.user.load(self.raw.author_id)
        assert view is not None
        return User.from_view(view)

    @strawberry.field
    async def post(self, info: Info) -> Post | None:
        return await build_post(info, await resolve.visible_post(info.context, self.raw.post_id))

    @strawberry.field(
        description="The top-level comment this replies to; null when there is none, or when"
        " its author is across a block from the viewer."
    )
    async def reply_to(self, info: Info) -> Comment | None:
        if self.raw.reply_to_id is None:
            return None
        view = await resolve.visible_comment(info.context, self.raw.reply_to_id)
        return Comment.from_view(view) if view else None

    @strawberry.field
    async def viewer_has_liked(self, info: Info) -> bool:
        return await info.context.loaders.viewer_liked_comment.load(self.raw.id)

    @strawberry.field(
        description="Replies to this comment, oldest first: they read as a conversation."
    )
    async def replies(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Comment]:
        page = await resolve.replies(info.context, self.raw, first, after)
        return await comment_connection(info, page)


async def comment_connection(info: Info, page: Page) -> Connection[Comment]:
    """A page of comments, without those whose author is gone (deactivated, suspended or
    deleted; their authors are loaded here, in one batch, as the `author` field would) or that
    are held for review (but to their author)."""
    loaders = info.context.loaders
    views = await loaders.comment.load_many(page.ids)
    authors = await loaders.user.load_many([v.author_id if v else 0 for v in views])
    viewer = info.context.viewer_id
    return Connection.of(
        page,
        [
            Comment.from_view(v) if v and a and (not v.hidden or v.author_id == viewer) else None
            for v, a in zip(views, authors, strict=True)
        ],
    )


@strawberry.type
class Hashtag(Node):
    raw: strawberry.Private[HashtagView]
    name: str
    post_count: int = strawberry.field(
        description="About how many public posts have this hashtag: posts of private accounts"
        " are not counted (and `posts` lists only what the viewer may see)."
    )

    @classmethod
    def from_row(cls, row: HashtagView) -> Hashtag:
        return cls(
            id=strawberry.ID(to_global_id("Hashtag", row.id)),
            raw=row,
            name=row.name,
            post_count=row.post_count,
        )

    @strawberry.field(description="Posts with this hashtag that the viewer may see, newest first.")
    async def posts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Post]:
        page = await resolve.hashtag_posts(info.context, self.raw, first, after)
        return await post_connection(info, page)
