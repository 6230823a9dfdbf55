"""The Redis side of feeds.

`home:{uid}` holds the newest FEED_SIZE posts of everyone the user follows, as a sorted set whose
members all score 0, so Redis orders them by member: `<post id>:<author id>`, the post id
zero-padded to 19 digits, which sorts exactly as the number does (scores are doubles and cannot
hold a 64-bit id exactly). Carrying the author lets a reader check follows in the same round trip
that fetches the posts.

`home:{uid}:floor` is the window's floor: every post at or above it is in the set, older ones are
read from Postgres; "0" means the set is complete. The floor key also marks the feed as kept:
both expire FEED_ACTIVE_DAYS after their owner last read the feed (the set a minute later, so it
never goes before its floor), so only active users' feeds are kept, and fan-out writes only to
feeds that exist. The set always holds BASE, a member below every entry that reads leave out:
a kept feed with no entries still has its set, with its expiry, so an insert never makes a set
that would outlive its floor.

`ap:{uid}` keeps each author's newest posts the same way (members are padded post ids), for
merging very large accounts in at read time. Every key carries its user id in a hash tag, so
Redis Cluster keeps a user's keys on one node.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from domain.keyspace import NodeScript, masters
from domain.reads import ReadBatch, Reads

FEED_SIZE = 1_000
TRIM_SLACK = 100  # trim once a feed is this far over FEED_SIZE, not on every insert
AUTHOR_POSTS = 300
PULLED_AUTHORS = "feed:pulled"
PULLED_REFRESH_SECONDS = 5.0  # how stale this process's copy of PULLED_AUTHORS may get

# KEYS: n feeds, then their n floors; ARGV: member, FEED_SIZE, TRIM_SLACK, a number 0-15.
# Which feeds are kept (their owner is active) is read for a thousand at a time with MGET, far
# cheaper than an EXISTS per feed; the trim runs once a feed is TRIM_SLACK over FEED_SIZE, not
# on every insert. The size is looked at for one feed in 16 per insert (which ones turns with
# the last argument, drawn at random), so each feed is looked at every 16 posts or so: a sixth
# more inserts per second, for feeds that may run a few entries past the slack meanwhile. A
# late post under the floor may land in the set; reads ignore it.
_FANOUT = """
local call = redis.call
local member = ARGV[1]
local limit = tonumber(ARGV[2]) + tonumber(ARGV[3])
local keep = -(tonumber(ARGV[2]) + 1)
local n = #KEYS / 2
local turn = tonumber(ARGV[4])
local added = 0
for first = 1, n, 1000 do
  local last = math.min(first + 999, n)
  local kept = mget(KEYS, n + first, n + last)
  for j = 1, last - first + 1 do
    if kept[j] then
      local feed = KEYS[first + j - 1]
      if call('ZADD', feed, 0, member) == 1 then
        added = added + 1
        if (first + j + turn) % 16 == 0 and call('ZCARD', feed) > limit then
          call('ZREMRANGEBYRANK', feed, 0, keep)
          local lowest = call('ZRANGE', feed, 0, 0)[1]
          call('SET', KEYS[n + first + j - 1], string.sub(lowest, 1, 19), 'KEEPTTL')
        end
      end
    end
  end
end
return added
"""

# KEYS: feed, floor; ARGV: the floor's TTL, padded floor, the set's TTL, BASE, members.
# Replaces the feed's window.
_REPLACE = """
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[1], 0, ARGV[4])
for i = 5, #ARGV, 5000 do
  local batch = {}
  for j = i, math.min(i + 4999, #ARGV) do
    batch[#batch + 1] = 0
    batch[#batch + 1] = ARGV[j]
  end
  redis.call('ZADD', KEYS[1], unpack(batch))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[1]))
return #ARGV - 4
"""

# KEYS: the snapshot, its "at" mark; ARGV: TTL, the mark, then score, member, score, member...
# Replaces the snapshot at once (readers never see it half-written).
_WRITE_RANKING = """
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 5000 do
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, math.min(i + 4999, #ARGV)))
end
if #ARGV > 2 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[1]))
"""

# A member below every entry ("0" sorts before any padded post id), kept in every feed's set.
BASE = "0"
SET_OUTLIVES_FLOOR_SECONDS = 60

Entry = tuple[int, int]  # (post id, author id)

# The ranking snapshot (see domain/ranking): `rank:{uid}` holds feed entries by score and
# `rank:{uid}:at` says when it was made and the oldest post in it ("<epoch seconds>:<post id>").
RANK_TTL_SECONDS = 3_600
RANK_FRESH_SECONDS = 600
RANK_CLAIM_SECONDS = 60  # one ranking request per user per minute, however many reads


@dataclass(frozen=True)
class Position:
    """Where a post stands in a feed: its id, and in a RANKED read, its score."""

    post_id: int
    score: float | None = None


@dataclass
class RankedRead:
    entries: list[tuple[Entry, float]]  # best first
    more: bool  # the read stopped at its count: the snapshot may go on
    oldest: int  # the oldest post id in the snapshot; 0 when there is no snapshot
    stale: bool  # no snapshot, or one older than RANK_FRESH_SECONDS, and none asked for lately


def pad(post_id: int) -> str:
    return f"{post_id:019d}"


def member(post_id: int, author_id: int) -> str:
    return f"{post_id:019d}:{author_id}"


def parse_member(value: str) -> Entry:
    return int(value[:19]), int(value[20:])


def user_tag(user_id: int) -> bytes:
    """The hash tag of a user's keys (between the braces of `home:{7}`)."""
    return b"%d" % user_id


def feed_key(user_id: int) -> str:
    return f"home:{{{user_id}}}"


def floor_key(user_id: int) -> str:
    return f"home:{{{user_id}}}:floor"


def author_key(author_id: int) -> str:
    return f"ap:{{{author_id}}}"


def rank_key(user_id: int) -> str:
    return f"rank:{{{user_id}}}"


def rank_at_key(user_id: int) -> str:
    return f"rank:{{{user_id}}}:at"


def rank_claim_key(user_id: int) -> str:
    return f"rank:{{{user_id}}}:claim"


class FeedStore:
    def __init__(self, redis: Redis, reads: Reads, *, active_days: int) -> None:
        self.redis = redis
        self.reads = reads
        self.ttl = active_days * 86_400
        self._fanout = NodeScript(redis, _FANOUT)
        self._replace = redis.register_script(_REPLACE)
        self._write_ranking = redis.register_script(_WRITE_RANKING)
        self._pulled: set[int] = set()
        self._pulled_read_at = float("-inf")

    @property
    def masters(self) -> int:
        """How many Redis masters share the feeds (1 on a single Redis)."""
        return masters(self.redis)

    async def insert(self, user_ids: Sequence[int], post_id: int, author_id: int) -> int:
        """Add a post to the feeds of these users that exist; returns how many took it."""
        args = [member(post_id, author_id), FEED_SIZE, TRIM_SLACK, random.randrange(16)]
        added = await self._fanout.run(
            user_ids,
            user_tag,
            lambda users: ([feed_key(u) for u in users] + [floor_key(u) for u in users], args),
        )
        return sum(int(n) for n in added)

    async def replace(self, user_id: int, entries: Sequence[Entry], *, floor: int) -> None:
        await cast(
            Awaitable[Any],
            self._replace(
                [feed_key(user_id), floor_key(user_id)],
                [
                    self.ttl,
                    pad(floor),
                    self.ttl + SET_OUTLIVES_FLOOR_SECONDS,
                    BASE,
                    *(member(p, a) for p, a in entries),
                ],
            ),
        )

    async def exists(self, user_id: int) -> bool:
        return bool(await self.redis.exists(floor_key(user_id)))

    async def pulled_authors(self) -> set[int]:
        """The authors whose posts are pulled at read time, not pushed, from this process's
        copy, read again when it is PULLED_REFRESH_SECONDS old: an author who just crossed
        FANOUT_MAX_FOLLOWERS is merged in by other processes a few seconds later, and one who
        stopped being pulled only costs a lookup that finds posts the feed has already."""
        if time.monotonic() - self._pulled_read_at >= PULLED_REFRESH_SECONDS:
            # One request reads it again; those arriving meanwhile go on with the copy they
            # have (all of them reading it at once stalled the process for most of a second).
            self._pulled_read_at = time.monotonic()
            try:
                members = await cast(Awaitable[set[str]], self.redis.smembers(PULLED_AUTHORS))
            except BaseException:
                self._pulled_read_at = float("-inf")  # the next request tries again
                raise
            self._pulled = {int(m) for m in members}
        return self._pulled

    def open_window(
        self, pipe: ReadBatch, user_id: int, *, below: int, count: int
    ) -> Callable[[], tuple[bool, list[Entry], int]]:
        """Queue the reading of a page of the window: mark the feed as read now (it lives
        FEED_ACTIVE_DAYS more) and take up to `count` entries under `below` (and at or above the
        floor), newest first. Parses to (kept, entries, floor); not kept means there is no feed
        (its owner was away) and the entries are empty."""
        kept = pipe.expire(floor_key(user_id), self.ttl)
        pipe.expire(feed_key(user_id), self.ttl + SET_OUTLIVES_FLOOR_SECONDS)
        window = self.window(pipe, user_id, below=below, count=count)

        def parse() -> tuple[bool, list[Entry], int]:
            entries, floor = window()
            return kept.value, entries, floor

        return parse

    def window(
        self, pipe: ReadBatch, user_id: int, *, below: int, count: int
    ) -> Callable[[], tuple[list[Entry], int]]:
        """Queue the reading of up to `count` entries under `below` (and at or above the floor),
        newest first; parses to (entries, floor)."""
        members = pipe.zrevrangebylex(feed_key(user_id), f"({pad(below)}", "-", start=0, num=count)
        floor = pipe.get(floor_key(user_id))

        def parse() -> tuple[list[Entry], int]:
            floor_id = int(floor.value or 0)
            entries = [parse_member(m) for m in members.value if m != BASE]
            return [e for e in entries if e[0] >= floor_id], floor_id

        return parse

    def ranked(
        self, pipe: ReadBatch, user_id: int, *, after: Position | None, count: int
    ) -> Callable[[], RankedRead]:
        """Queue the read of up to `count` entries of the ranking snapshot after `after` (by
        score, then post id, both descending)."""
        top = "+inf" if after is None or after.score is None else repr(after.score)
        if after is not None and after.score is not None:
            # a reader scrolling keeps the snapshot alive under their cursor
            pipe.expire(rank_key(user_id), RANK_TTL_SECONDS)
            pipe.expire(rank_at_key(user_id), RANK_TTL_SECONDS)
        at = pipe.get(rank_at_key(user_id))
        claimed = pipe.exists(rank_claim_key(user_id))
        # Inclusive of the cursor's score, for entries tied with it; a few more for those.
        found = pipe.zrevrangebyscore_withscores(
            rank_key(user_id), top, "-inf", start=0, num=count + 5
        )

        def parse() -> RankedRead:
            made, _, oldest = (at.value or "0:0").partition(":")
            entries = [(parse_member(m), score) for m, score in found.value]
            if after is not None and after.score is not None:
                mark = (after.score, after.post_id)
                entries = [e for e in entries if (e[1], e[0][0]) < mark]
            return RankedRead(
                entries=entries[:count],
                more=len(found.value) >= count + 5 or len(entries) > count,
                oldest=int(oldest or 0),
                stale=time.time() - float(made) > RANK_FRESH_SECONDS and not claimed.value,
            )

        return parse

    async def claim_ranking(self, user_id: int) -> bool:
        """True for the first caller in RANK_CLAIM_SECONDS: it asks for the ranking job."""
        claimed = await self.redis.set(rank_claim_key(user_id), "1", nx=True, ex=RANK_CLAIM_SECONDS)
        return bool(claimed)

    async def write_ranking(self, user_id: int, scores: dict[str, float], *, oldest: int) -> None:
        """Replace the user's ranking snapshot (entries by member) at once."""
        await cast(
            Awaitable[Any],
            self._write_ranking(
                [rank_key(user_id), rank_at_key(user_id)],
                [
                    RANK_TTL_SECONDS,
                    f"{int(time.time())}:{oldest}",
                    *(part for entry, score in scores.items() for part in (repr(score), entry)),
                ],
            ),
        )

    async def drop_ranking(self, user_id: int) -> None:
        """Forget the user's snapshot: their RANKED feed is newest first until the next."""
        await self.redis.delete(rank_key(user_id), rank_at_key(user_id))

    async def drop_feed(self, user_id: int) -> None:
        """Forget everything kept for this user as a reader and as an author (a deleted
        account)."""
        await self.redis.delete(
            feed_key(user_id),
            floor_key(user_id),
            rank_key(user_id),
            rank_at_key(user_id),
            author_key(user_id),
        )
        await cast(Awaitable[int], self.redis.srem(PULLED_AUTHORS, user_id))

    async def ids(self, user_id: int) -> list[int]:
        """Every post id in the window, newest first (for tests and tools)."""
        members = await self.redis.zrevrangebylex(feed_key(user_id), "+", "-")
        return [parse_member(m)[0] for m in members if m != BASE]

    async def remember_author_post(self, author_id: int, post_id: int) -> None:
        key = author_key(author_id)
        async with self.redis.pipeline(transaction=False) as pipe:  # one node, in order
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
            self._pulled = self._pulled | {author_id}
        else:
            await cast(Awaitable[int], self.redis.srem(PULLED_AUTHORS, author_id))
            self._pulled = self._pulled - {author_id}

    async def author_posts(
        self, author_ids: Sequence[int], *, below: int, at_least: int, count: int
    ) -> list[Entry]:
        """Newest posts of these authors with at_least <= id < below, newest first."""
        if not author_ids:
            return []
        batch = self.reads.batch()
        replies = [
            (
                author_id,
                batch.zrevrangebylex(
                    author_key(author_id), f"({pad(below)}", f"[{pad(at_least)}", start=0, num=count
                ),
            )
            for author_id in author_ids
        ]
        await batch.execute()
        entries = {(int(m), author_id) for author_id, members in replies for m in members.value}
        return sorted(entries, reverse=True)[:count]
