"""The visibility rule's two forms (domain/graph/visibility: SQL for lists, Python on a
request's loaded facts) agree on every case, and the seeded world behaves like one made
through the API."""

from __future__ import annotations

import pytest
from tortoise import connections

from config.runtime import Runtime
from domain.graph import service as graph
from domain.graph.visibility import visible_authors_sql
from domain.users.models import User
from resolvers.posts import can_see_posts_of
from tests.factories import context_for, make_user

# (case, author private?, the viewer's relation to the author)
CASES = [
    (f"{'private' if private else 'public'}, {relation}", private, relation)
    for private in (False, True)
    for relation in (
        "signed out",
        "own",
        "stranger",
        "pending",
        "follower",
        "blocked by author",
        "blocks author",
        "follower, then blocked",
    )
]
# Who sees what: everyone sees a public account but across a block; a private one only its
# approved followers and itself.
EXPECTED = {
    (False, "signed out"): True,
    (False, "own"): True,
    (False, "stranger"): True,
    (False, "pending"): True,
    (False, "follower"): True,
    (False, "blocked by author"): False,
    (False, "blocks author"): False,
    (False, "follower, then blocked"): False,
    (True, "signed out"): False,
    (True, "own"): True,
    (True, "stranger"): False,
    (True, "pending"): False,
    (True, "follower"): True,
    (True, "blocked by author"): False,
    (True, "blocks author"): False,
    (True, "follower, then blocked"): False,
}


async def _world(runtime: Runtime, private: bool, relation: str) -> tuple[User, int | None]:
    """The author, and the viewer's id (None when signed out)."""
    author = await make_user("author", private=private)
    if relation == "signed out":
        return author, None
    if relation == "own":
        return author, author.id
    viewer = await make_user("viewer")
    if relation in ("follower", "follower, then blocked"):
        await graph.follow(follower_id=viewer.id, followee_id=author.id, users=runtime.users)
        if private:
            await graph.approve_request(
                owner_id=author.id, requester_id=viewer.id, users=runtime.users
            )
    if relation == "follower, then blocked":
        await graph.block(blocker_id=author.id, blocked_id=viewer.id, users=runtime.users)
    if relation == "pending":  # asked to follow: a request for a private account
        followed = await graph.follow(
            follower_id=viewer.id, followee_id=author.id, users=runtime.users
        )
        assert followed.status.value == ("PENDING" if private else "ACTIVE")
    if relation == "blocked by author":
        await graph.block(blocker_id=author.id, blocked_id=viewer.id, users=runtime.users)
    if relation == "blocks author":
        await graph.block(blocker_id=viewer.id, blocked_id=author.id, users=runtime.users)
    return author, viewer.id


@pytest.mark.parametrize(("case", "private", "relation"), CASES, ids=[c[0] for c in CASES])
async def test_sql_and_python_agree(
    runtime: Runtime, case: str, private: bool, relation: str
) -> None:
    # given
    author, viewer_id = await _world(runtime, private, relation)

    # when: the SQL form, as the lists use it
    rows = await connections.get("default").execute_query_dict(
        "SELECT "
        + visible_authors_sql("u.id", "u.is_private", "$1")
        + " AS visible FROM users u WHERE u.id = $2",
        [viewer_id or 0, author.id],
    )
    in_sql = bool(rows[0]["visible"])
    # and the Python form, on a request's loaders
    in_python = await can_see_posts_of(context_for(runtime, viewer_id), author.id)

    # then
    assert in_sql == in_python == EXPECTED[(private, relation)], case
