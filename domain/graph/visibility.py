"""Who may see whom, in one place and in both of its forms: SQL conditions for the lists that
filter in their query, and the same rule in Python for a single post or profile whose facts the
request has loaded already. `tests/test_visibility.py` checks that the two agree on every case.

The rule: nobody sees anything across a block (either way); a private account's posts (and its
followers and following) are seen only by its approved followers and itself.
"""

from __future__ import annotations

from domain.graph.models import FollowStatus


def not_blocked_sql(one: str, other: str) -> str:
    """A SQL condition: no block between the users in `one` and `other`, either way."""
    return (
        f"NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = {one} AND b.blocked_id ="
        f" {other}) OR (b.blocker_id = {other} AND b.blocked_id = {one}))"
    )


def visible_authors_sql(author_col: str, private_col: str, viewer_param: str) -> str:
    """A SQL condition: the viewer (`viewer_param`, 0 when signed out) may see posts of the
    author in `author_col`, whose users.is_private is `private_col`. `may_see_posts` is the
    same rule in Python."""
    v, a = viewer_param, author_col
    return f"""({not_blocked_sql(v, a)}
            AND (NOT {private_col} OR {a} = {v}
                 OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = {v}
                            AND f.followee_id = {a} AND f.status = 'ACTIVE')))"""


def may_see_posts(
    *,
    viewer_id: int | None,
    author_id: int,
    author_private: bool,
    blocked_either_way: bool,
    viewer_follow_status: str | None,
) -> bool:
    """`visible_authors_sql` in Python, from facts the caller has loaded."""
    if viewer_id == author_id:
        return True
    if blocked_either_way:
        return False
    return not author_private or viewer_follow_status == FollowStatus.ACTIVE


def may_see_graph(
    *, viewer_id: int | None, user_id: int, user_private: bool, viewer_follow_status: str | None
) -> bool:
    """A private account's followers and following are for itself and its approved followers
    (a block hides the account itself, before this is asked)."""
    return not user_private or viewer_id == user_id or viewer_follow_status == FollowStatus.ACTIVE
