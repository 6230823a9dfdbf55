"""Who may see whose posts: nobody across a block, and a private account's posts only by its
approved followers (and itself)."""

from __future__ import annotations


def visible_authors_sql(author_col: str, private_col: str, viewer_param: str) -> str:
    """A SQL condition: the viewer (`viewer_param`, 0 when signed out) may see posts of the
    author in `author_col`, whose users.is_private is `private_col`."""
    v, a = viewer_param, author_col
    return f"""(NOT EXISTS (SELECT 1 FROM blocks b
                 WHERE (b.blocker_id = {v} AND b.blocked_id = {a})
                    OR (b.blocker_id = {a} AND b.blocked_id = {v}))
            AND (NOT {private_col} OR {a} = {v}
                 OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = {v}
                            AND f.followee_id = {a} AND f.status = 'ACTIVE')))"""
