"""The Redis side of feeds.

`feed:{uid}` holds the newest FEED_SIZE posts of everyone the user follows, as a sorted set whose
members all score 0, so Redis orders them by member: the post id, zero-padded to 19 digits, which
sorts exactly as the number does (scores are doubles and cannot hold a 64-bit id exactly).
`feed:{uid}:floor` is the window's floor: every post at or above it is in the set, older ones are
read from Postgres; "0" means the set is complete. The floor key also marks the feed as kept:
both expire FEED_ACTIVE_DAYS after their owner last read the feed, so only active users' feeds
are kept, and fan-out writes only to feeds that exist.

`ap:{uid}` keeps each author's newest posts the same way, for merging very large accounts in at
read time. Every key carries its user id in a hash tag, so Redis Cluster keeps a user's keys on
one node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, cast

from redis.asyncio import Redis

FEED_SIZE = 1_000
TRIM_SLACK = 100  # trim once a feed is this far over FEED_SIZE, not on every insert
AUTHOR_POSTS = 300
PULLED_AUTHORS = "feed:pulled"

# KEYS: feed, floor, feed, floor, ...; ARGV: padded post id, FEED_SIZE, TRIM_SLACK.
# The floor key says the feed is kept (its owner is active); the trim runs once a feed is
# TRIM_SLACK over FEED_SIZE, not on every insert. A late post under the floor may land in the
# set; reads ignore what is under the floor.
_FANOUT = """
local call = redis.call
local member = ARGV[1]
local limit = tonumber(ARGV[2]) + tonumber(ARGV[3])
local keep = -(tonumber(ARGV[2]) + 1)
local added = 0
for i = 1, #KEYS, 2 do
  if call('EXISTS', KEYS[i + 1]) == 1 and call('ZADD', KEYS[i], 0, member) == 1 then
    added = added + 1
    if call('ZCARD', KEYS[i]) > limit then
      call('ZREMRANGEBYRANK', KEYS[i], 0, keep)
      call('SET', KEYS[i + 1], call('ZRANGE', KEYS[i], 0, 0)[1], 'KEEPTTL')
    end
  end
end
return added
"""

# KEYS: feed, floor; ARGV: ttl, padded floor, padded post ids. Replaces the feed's window.
_REPLACE = """
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 5000 do
  local batch = {}
  for j = i, math.min(i + 4999, #ARGV) do
    batch[#batch + 1] = 0
    batch[#batch + 1] = ARGV[j]
  end
  redis.call('ZADD', KEYS[1], unpack(batch))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[1]))
return #ARGV - 2
"""


def pad(post_id: int) -> str:
    return f"{post_id:019d}"


def feed_key(user_id: int) -> str:
    return f"feed:{{{user_id}}}"


def floor_key(user_id: int) -> str:
    return f"feed:{{{user_id}}}:floor"


def author_key(author_id: int) -> str:
    return f"ap:{{{author_id}}}"


class FeedStore:
    def __init__(self, redis: Redis, *, active_days: int) -> None:
        self.redis = redis
        self.ttl = active_days * 86_400
        self._fanout = redis.register_script(_FANOUT)
        self._replace = redis.register_script(_REPLACE)

    async def insert(self, user_ids: Sequence[int], post_id: int) -> int:
        """Add a post to the feeds of these users that exist; returns how many took it."""
        if not user_ids:
            return 0
        keys = [key for u in user_ids for key in (feed_key(u), floor_key(u))]
        added = await cast(
            Awaitable[Any], self._fanout(keys, [pad(post_id), FEED_SIZE, TRIM_SLACK])
        )
        return int(added)

    async def replace(self, user_id: int, post_ids: Sequence[int], *, floor: int) -> None:
        await cast(
            Awaitable[Any],
            self._replace(
                [feed_key(user_id), floor_key(user_id)],
                [self.ttl, pad(floor), *(pad(i) for i in post_ids)],
            ),
        )

    async def exists(self, user_id: int) -> bool:
        return bool(await self.redis.exists(floor_key(user_id)))

    async def open(self, user_id: int) -> tuple[bool, set[int]]:
        """Mark the feed as read now (it lives FEED_ACTIVE_DAYS more) and say whether it is
        still kept; with the authors whose posts are pulled (one round trip)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.expire(floor_key(user_id), self.ttl)
            pipe.expire(feed_key(user_id), self.ttl)
            pipe.smembers(PULLED_AUTHORS)
            kept, _, pulled = await pipe.execute()
        return bool(kept), {int(m) for m in pulled}

    async def window(self, user_id: int, *, below: int, count: int) -> tuple[list[int], int]:
        """Up to `count` post ids under `below` (and at or above the floor), newest first,
        and the floor."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrangebylex(feed_key(user_id), f"({pad(below)}", "-", start=0, num=count)
            pipe.get(floor_key(user_id))
            members, floor = await pipe.execute()
        floor_id = int(floor or 0)
        return [i for i in map(int, members) if i >= floor_id], floor_id

    async def ids(self, user_id: int) -> list[int]:
        """Every post id in the window, newest first (for tests and tools)."""
        return [int(m) for m in await self.redis.zrevrangebylex(feed_key(user_id), "+", "-")]

    async def remember_author_post(self, author_id: int, post_id: int) -> None:
        key = author_key(author_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {pad(post_id): 0})
            pipe.zremrangebyrank(key, 0, -(AUTHOR_POSTS + 1))
            await pipe.execute()

    async def forget_author_post(self, author_id: int, post_id: int) -> None:
        await self.redis.zrem(author_key(author_id), pad(post_id))

    async def mark_pulled(self, author_id: int, *, pulled: bool) -> None:
        """Record whether this author's posts are pushed (fan-out) or pulled by readers; the
        decision of the author's latest fan-out is what readers merge by."""
        if pulled:
            await cast(Awaitable[int], self.redis.sadd(PULLED_AUTHORS, author_id))
        else:
            await cast(Awaitable[int], self.redis.srem(PULLED_AUTHORS, author_id))

    async def author_posts(
        self, author_ids: Sequence[int], *, below: int, at_least: int, count: int
    ) -> list[int]:
        """Newest posts of these authors with at_least <= id < below, newest first."""
        if not author_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for author_id in author_ids:
                pipe.zrevrangebylex(
                    author_key(author_id), f"({pad(below)}", f"[{pad(at_least)}", start=0, num=count
                )
            results = await pipe.execute()
        return sorted({int(m) for members in results for m in members}, reverse=True)[:count]
