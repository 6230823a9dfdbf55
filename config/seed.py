"""A small demo world for `shutter serve`: accounts, follows, a private account with a request."""

from __future__ import annotations

from domain.graph import service as graph
from domain.users import service as users
from domain.users.models import User
from domain.users.store import UserStore

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "snapshots-2026"  # noqa: S105 - printed on purpose for the local demo

_PEOPLE = [
    ("ana", "Ana Lima", "Coffee, film cameras and long walks."),
    ("bo", "Bo Chen", "Street photography in Taipei."),
    ("carla", "Carla Ruiz", "Mountains > beaches."),
    ("dev", "Dev Patel", "Food, mostly."),
    ("emma", "Emma Novak", "Architecture nerd."),
    ("felix", "Felix Braun", "Cats. That's it."),
    ("gia", "Gia Romano", "Painter. Sometimes photographer."),
    ("hiro", "Hiro Tanaka", "Night skies."),
]


async def seed_demo(*, user_store: UserStore) -> bool:
    """Create the demo world once; False when it is already there."""
    if await User.filter(username=DEMO_USERNAME).exists():
        return False
    demo = await users.register(
        username=DEMO_USERNAME, email="demo@shutter.local", password=DEMO_PASSWORD
    )
    await users.update_profile(
        user_id=demo.id,
        users=user_store,
        full_name="Demo User",
        bio="Signed in from the README. Try following someone.",
    )
    people = []
    for username, name, bio in _PEOPLE:
        person = await users.register(
            username=username, email=f"{username}@shutter.local", password=DEMO_PASSWORD
        )
        await users.update_profile(user_id=person.id, users=user_store, full_name=name, bio=bio)
        people.append(person)
    # The demo account follows most people; a few follow back.
    for person in people[:6]:
        await graph.follow(follower_id=demo.id, followee_id=person.id, users=user_store)
    for person in people[::2]:
        await graph.follow(follower_id=person.id, followee_id=demo.id, users=user_store)
    for i, person in enumerate(people):
        for other in people[i + 1 : i + 4]:
            await graph.follow(follower_id=person.id, followee_id=other.id, users=user_store)
    # Hiro is private and the demo account has asked to follow; Felix asked to follow Hiro too.
    hiro, felix = people[-1], people[-3]
    await users.update_profile(user_id=hiro.id, users=user_store, is_private=True)
    await graph.follow(follower_id=demo.id, followee_id=hiro.id, users=user_store)
    await graph.follow(follower_id=felix.id, followee_id=hiro.id, users=user_store)
    return True
