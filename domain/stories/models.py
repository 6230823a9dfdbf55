"""Stories (24 hours each), who saw them, close friends, and highlights."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.ids import next_id


class Audience(StrEnum):
    EVERYONE = "EVERYONE"  # everyone who may see the author's posts
    CLOSE_FRIENDS = "CLOSE_FRIENDS"  # only those on the author's list when they look


class Story(Model):
    """A story; its row stays after it expires (the owner's archive, highlights)."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    author_id = fields.BigIntField()
    media_id = fields.BigIntField()
    audience = fields.CharEnumField(Audience, max_length=16)
    caption = fields.TextField(default="")
    mention_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    view_count = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "stories"
        indexes = (("author_id", "id"),)


class StoryView(Model):
    """Someone saw a story: once per viewer per story."""

    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    story_id = fields.BigIntField()
    viewer_id = fields.BigIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "story_views"
        unique_together = (("story_id", "viewer_id"),)
        indexes = (("story_id", "id"),)


class CloseFriend(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    owner_id = fields.BigIntField()
    friend_id = fields.BigIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "close_friends"
        unique_together = (("owner_id", "friend_id"),)
        indexes = (("friend_id", "owner_id"),)


class Highlight(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    owner_id = fields.BigIntField(db_index=True)
    title = fields.CharField(max_length=40)
    cover_media_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "highlights"


class HighlightStory(Model):
    id = fields.BigIntField(primary_key=True, generated=False, default=next_id)
    highlight_id = fields.BigIntField()
    story_id = fields.BigIntField()

    class Meta:
        table = "highlight_stories"
        unique_together = (("highlight_id", "story_id"),)
