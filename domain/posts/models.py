from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class PostKind(StrEnum):
    PHOTO = "PHOTO"
    CAROUSEL = "CAROUSEL"
    REEL = "REEL"


class Post(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    author_id = fields.BigIntField()
    kind = fields.CharEnumField(PostKind, max_length=8)
    caption = fields.TextField(default="")
    media_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)  # in display order
    hashtags: fields.JSONField[list[str]] = fields.JSONField(default=list)
    mention_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    # Written by the counter flush from Redis, which serves the live values.
    like_count = fields.IntField(default=0)
    comment_count = fields.IntField(default=0)
    save_count = fields.IntField(default=0)
    view_count = fields.BigIntField(
        default=0, db_default=0
    )  # impressions logged by clients (logViews)
    play_count = fields.BigIntField(default=0, db_default=0)  # of a video: views that played
    created_at = fields.DatetimeField(auto_now_add=True)
    edited_at = fields.DatetimeField(null=True)
    # Held for review (reported by enough people, or by the spam signals): its author only.
    hidden = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "posts"
        indexes = (("author_id", "id"),)


class Hashtag(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    name = fields.CharField(max_length=100, unique=True)
    post_count = fields.IntField(default=0)

    class Meta:
        table = "hashtags"


class PostHashtag(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    hashtag_id = fields.BigIntField()
    post_id = fields.BigIntField(db_index=True)

    class Meta:
        table = "post_hashtags"
        unique_together = (("hashtag_id", "post_id"),)


class PostMention(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    post_id = fields.BigIntField(db_index=True)
    user_id = fields.BigIntField()

    class Meta:
        table = "post_mentions"
        unique_together = (("user_id", "post_id"),)


class Like(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    post_id = fields.BigIntField()
    user_id = fields.BigIntField()

    class Meta:
        table = "likes"
        unique_together = (("post_id", "user_id"),)
        indexes = (("user_id", "post_id"),)


class Save(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    post_id = fields.BigIntField(db_index=True)
    user_id = fields.BigIntField()

    class Meta:
        table = "saves"
        unique_together = (("user_id", "post_id"),)


class Comment(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    post_id = fields.BigIntField()
    author_id = fields.BigIntField()
    # Replies are one level deep: a reply to a reply hangs off the same top-level comment.
    reply_to_id = fields.BigIntField(null=True)
    text = fields.TextField()
    like_count = fields.IntField(default=0)
    reply_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    hidden = fields.BooleanField(default=False, db_default=False)  # held: its author only

    class Meta:
        table = "comments"
        indexes = (("post_id", "reply_to_id", "id"),)


class CommentLike(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    comment_id = fields.BigIntField()
    user_id = fields.BigIntField()

    class Meta:
        table = "comment_likes"
        unique_together = (("comment_id", "user_id"),)


class CounterRecount(Model):
    """A counter to recount from its rows: its increment failed after its row was committed
    (see domain/posts/counters.py)."""

    counter = fields.CharField(max_length=40, primary_key=True)  # "<kind>:<item id>"

    class Meta:
        table = "counter_recounts"
