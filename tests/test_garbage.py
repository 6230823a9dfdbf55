"""A request leaves no reference cycles behind: what it made is freed when it ends, not in the
cyclic collector's pauses (tens of ms under load, every few hundred requests)."""

from __future__ import annotations

import gc

from config.runtime import Runtime
from config.settings import Settings
from domain.posts import flows as posts
from schema.root import build_schema
from tests.factories import context_for, fan_out, follow, make_media, make_user

QUERY = """{ feed(first: 10) { edges { cursor node { id caption likeCount viewerHasLiked
  author { username viewerFollows } media { url(width: 640) } } }
  pageInfo { hasNextPage endCursor } } }"""


async def test_a_feed_page_leaves_no_cyclic_garbage(runtime: Runtime, settings: Settings) -> None:
    # given: bo follows ana, who posted; the schema as the server builds it
    ana, bo = await make_user("ana"), await make_user("bo")
    await follow(bo, ana, runtime.users)
    for caption in ("one", "two"):
        media = await make_media(ana)
        post_id = await posts.create_post(
            author_id=ana.id,
            media_ids=[media.id],
            caption=caption,
            stores=runtime.post_stores,
            ports=runtime.ports,
        )
        await fan_out(runtime, post_id)
    schema = build_schema(settings)

    async def page() -> None:
        context = context_for(runtime, bo.id)
        result = await schema.execute(QUERY, context_value=context)
        assert result.errors is None, result.errors
        assert result.data is not None
        assert [e["node"]["caption"] for e in result.data["feed"]["edges"]] == ["two", "one"]

    await page()  # caches warm
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        # when: pages are read
        for _ in range(3):
            await page()
        gc.collect()
        # then: the collector found nothing of theirs
        left = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
