"""SQL conditions for who may see whom: nobody across a block, and a private account's posts
only by its approved followers (and itself). Every list filters with these, in its query."""

from __future__ import annotations


def not_blocked_sql(one: str, other: str) -> str:
    """A SQL condition: no block between the users in `one` and `other`, either way."""
    return (
        f"NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = {one} AND b.blocked_id ="
        f" {other}) OR (b.blocker_id = {other} AND b.blocked_id = {one}))"
    )


def visible_authors_sql(author_col: str, private_col: str, viewer_param: str) -> str:
    """A SQL condition: the viewer (`viewer_param`, 0 when signed out) may see posts of the
    author in `author_col`, whose users.is_private is `private_col`."""
    v, a = viewer_param, author_col
    return f"""({not_blocked_sql(v, a)}
            AND (NOT {private_col} OR {a} = {v}
                 OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = {v}
                            AND f.followee_id = {a} AND f.status = 'ACTIVE')))"""
