"""A small demo world for `shutter serve`: accounts, follows, a private account with a
request, and photo posts made through the real media pipeline. Everything goes through the same
flows as the API, so feeds are fanned out and mentions and follows notified by the workers."""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw

from config.runtime import Runtime
from domain.graph import flows as graph
from domain.media import service as media_service
from domain.posts import flows as post_flows
from domain.users import flows as profiles
from domain.users import service as users
from domain.users.models import User

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


def _demo_photo(seed: int) -> bytes:
    """A made-up landscape: sky, sun and hills, different for each seed."""
    rng = random.Random(seed)
    width, height = 1080, 1080
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    top = (rng.randrange(40, 120), rng.randrange(80, 160), rng.randrange(160, 255))
    bottom = (rng.randrange(200, 255), rng.randrange(120, 200), rng.randrange(60, 140))
    for y in range(height):
        t = y / height
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    sun = (rng.randrange(200, 880), rng.randrange(150, 450))
    draw.ellipse([sun[0] - 90, sun[1] - 90, sun[0] + 90, sun[1] + 90], fill=(255, 236, 170))
    for layer in range(3):
        base = 650 + layer * 120
        shade = (30 + layer * 30, 80 + layer * 25, 40 + layer * 20)
        points = (
            [(0, height)]
            + [
                (x, base + int(60 * math.sin(x / rng.randrange(90, 200) + layer)))
                for x in range(0, width + 40, 40)
            ]
            + [(width, height)]
        )
        draw.polygon(points, fill=shade)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


async def _demo_media(runtime: Runtime, owner_id: int, seed: int) -> int:
    """Upload and process a photo the way a client and the media worker would; its id."""
    media = await media_service.store_upload(
        owner_id=owner_id,
        data=_demo_photo(seed),
        declared_type="image/jpeg",
        store=runtime.store,
    )
    await media_service.process_media(
        media_id=media.id,
        store=runtime.store,
        events=runtime.ports.events,
        media_store=runtime.media,
    )
    return media.id


async def _demo_post(runtime: Runtime, author_id: int, seed: int, caption: str) -> None:
    await post_flows.create_post(
        author_id=author_id,
        media_ids=[await _demo_media(runtime, author_id, seed)],
        caption=caption,
        stores=runtime.post_stores,
        ports=runtime.ports,
    )


async def seed_demo(*, runtime: Runtime) -> bool:
    """Create the demo world once; False when it is already there."""
    user_store = runtime.users
    if await User.filter(username=DEMO_USERNAME).exists():
        return False
    demo = await users.register(
        username=DEMO_USERNAME, email="demo@shutter.local", password=DEMO_PASSWORD
    )
    await profiles.update_profile(
        user_id=demo.id,
        users=user_store,
        ports=runtime.ports,
        full_name="Demo User",
        bio="Signed in from the README. Try following someone.",
    )
    people = []
    for username, name, bio in _PEOPLE:
        person = await users.register(
            username=username, email=f"{username}@shutter.local", password=DEMO_PASSWORD
        )
        await profiles.update_profile(
            user_id=person.id, users=user_store, ports=runtime.ports, full_name=name, bio=bio
        )
        people.append(person)
    # The demo account follows most people; a few follow back.
    for person in people[:6]:
        await graph.follow(
            follower_id=demo.id, followee_id=person.id, users=user_store, ports=runtime.ports
        )
    for person in people[::2]:
        await graph.follow(
            follower_id=person.id, followee_id=demo.id, users=user_store, ports=runtime.ports
        )
    for i, person in enumerate(people):
        for other in people[i + 1 : i + 4]:
            await graph.follow(
                follower_id=person.id, followee_id=other.id, users=user_store, ports=runtime.ports
            )
    # Hiro is private and the demo account has asked to follow; Felix asked to follow Hiro too.
    hiro, felix = people[-1], people[-3]
    await profiles.update_profile(
        user_id=hiro.id, users=user_store, ports=runtime.ports, is_private=True
    )
    await graph.follow(
        follower_id=demo.id, followee_id=hiro.id, users=user_store, ports=runtime.ports
    )
    await graph.follow(
        follower_id=felix.id, followee_id=hiro.id, users=user_store, ports=runtime.ports
    )
    captions = [
        "Golden hour again #sunset",
        "Weekend hills #hiking #outdoors",
        "Couldn't stop looking up #sky",
        "Morning walk with @demo #sunrise",
    ]
    for i, person in enumerate(people):
        for j in range(2):
            await _demo_post(
                runtime, person.id, seed=i * 10 + j, caption=captions[(i + j) % len(captions)]
            )
    # The demo account's own profile is a living one: an avatar and posts of its own.
    await profiles.update_profile(
        user_id=demo.id,
        users=user_store,
        ports=runtime.ports,
        avatar_media_id=await _demo_media(runtime, demo.id, seed=900),
    )
    await _demo_post(runtime, demo.id, seed=901, caption="First light from my window #sunrise")
    await _demo_post(runtime, demo.id, seed=902, caption="Trying out Shutter with @ana")
    return True
