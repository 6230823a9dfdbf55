"""A viewer's story tray kept ready, and valid exactly as long as nothing it shows has changed.

The tray is assembled at read time from every followed account's stories (domain/stories/store),
which for a viewer following 1,000 accounts is some 800 objects to read and shape: ten
milliseconds of a Python process. Most tray reads change nothing since the last one (a viewer
opening the app again), so the answer is kept per viewer and per document, under a
*fingerprint* of everything that decides it, read in two batched round trips:

- `tray:v:{viewer}`, the viewer's own version: bumped by what the viewer does that reorders or
  marks the tray (stories seen, likes, comments and messages through the affinity, being added
  to or taken off someone's close friends);
- whom the viewer follows (the cached `fol:{viewer}` set the tray itself reads), and for each of
  them and the viewer `users:changed` (domain/users/store): when their row or their stories
  last changed (a story posted or removed, a profile edited, a follow, a block, a deactivation
  or suspension). On one Redis that is a ZINTER of the two, whose reply holds only the
  followed accounts that changed in the last day; on a cluster, where they are on different nodes,
  the followed set is read and looked up in `users:changed`;
- the served ranking model's version (its author affinity orders the tray).

An answer is kept at most `TRAY_CACHE_SECONDS` and never past the moment its first story
expires, so an expired story is gone from the very next read. The followed set, when it is not
in Redis (a follow just changed it), is loaded first, as the tray would load it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from domain.reads import Reads
from domain.stories.store import tray_version_key
from domain.users.store import CHANGED, UserStore, following_key, now_ms


def entry_key(viewer_id: int, document: str) -> str:
    return f"tray:{{{viewer_id}}}:{document}"


@dataclass(frozen=True, slots=True)
class Looked:
    fingerprint: str
    body: str | None  # the kept answer (JSON of the storyTray field), if it is still valid


class TrayCache:
    def __init__(
        self, redis: Redis, reads: Reads, users: UserStore, *, max_age_seconds: int
    ) -> None:
        self.redis = redis
        self.reads = reads
        self.users = users
        self.cluster = isinstance(redis, RedisCluster)
        self.max_age_ms = max_age_seconds * 1000

    @property
    def enabled(self) -> bool:
        return self.max_age_ms > 0

    async def look(self, viewer_id: int, document: str, model: str | None) -> Looked:
        """The fingerprint of the viewer's tray now, with the answer kept under it if any."""
        looked = await self._look(viewer_id, document, model)
        if looked is None:  # the followed set is not in Redis: load it (the tray reads it next)
            await self.users.following_ids(viewer_id)
            looked = await self._look(viewer_id, document, model)
        return looked or Looked("", None)

    async def _look(self, viewer_id: int, document: str, model: str | None) -> Looked | None:
        batch = self.reads.batch()
        version = batch.get(tray_version_key(viewer_id))
        kept = batch.get(entry_key(viewer_id, document))
        own = batch.zmscore(CHANGED, [viewer_id])
        if self.cluster:  # the followed set and CHANGED live on different nodes
            following = batch.smembers(following_key(viewer_id))
            await batch.execute()
            if not following.value:
                return None  # not in Redis
            accounts = [m for m in following.value if m != "0"]
            stamps: list[str] = []
            if accounts:
                batch = self.reads.batch()
                changed = batch.zmscore(CHANGED, accounts)
                await batch.execute()
                found = [(c, a) for a, c in zip(accounts, changed.value, strict=True) if c]
                stamps = [part for c, a in sorted(found) for part in (a, f"{c:.0f}")]
        else:  # the intersection is Redis's: the reply holds only accounts that changed
            loaded = batch.exists(following_key(viewer_id))
            both = batch.zinter_withscores([CHANGED, following_key(viewer_id)], [1, 0])
            await batch.execute()
            if not loaded.value:
                return None
            stamps = both.value  # in Redis's order: the same for the same accounts and times
        mine = own.value[0]
        text = "|".join([version.value or "0", model or "", f"{mine or 0:.0f}", *stamps])
        fingerprint = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        body = kept.value
        if body is not None and body.startswith(fingerprint) and body[32:33] == "\n":
            return Looked(fingerprint, body[33:])
        return Looked(fingerprint, None)

    async def keep(
        self, viewer_id: int, document: str, looked: Looked, body: str, *, until_ms: int | None
    ) -> None:
        """Keep `body` under the fingerprint read before it was made (a change while it was
        being made leaves it stale at once: the next look reads a new fingerprint)."""
        if not looked.fingerprint:
            return
        ttl = self.max_age_ms
        if until_ms is not None:
            ttl = min(ttl, until_ms - now_ms())
        if ttl > 0:
            await cast(
                Awaitable[object],
                self.redis.set(
                    entry_key(viewer_id, document), f"{looked.fingerprint}\n{body}", px=ttl
                ),
            )
