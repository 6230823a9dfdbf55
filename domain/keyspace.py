"""Where keys live: one Redis, or a Redis Cluster (REDIS_CLUSTER; see the README's "Running
at scale").

Every key names the one thing it belongs to in a hash tag (`home:{7}`, `home:{7}:floor`,
`c:user:{7}`, `cnt:{p12}:...`), so that every command and script over one thing's keys stays in
one slot, wherever the cluster puts that slot. Two kinds of write span many things at once and
cannot live in one slot: a post's fan-out into thousands of followers' feeds, and a page's
cache fill of many rows. They run as a `NodeScript`: on one Redis, one script call; on a
cluster, one call per master with that master's share of the keys, all masters at once, by
Redis 7's `allow-cross-slot-keys` script flag (a script may touch keys of several slots as long
as they are all on the node it runs on). Redis routes a script by its declared keys, which must
then be of one slot, so on a cluster the keys travel in ARGV and the script declares none; the
script body reads KEYS and ARGV as always (a prologue unpacks them).
"""

from __future__ import annotations

import asyncio
from binascii import crc_hqx
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import SlotNotCoveredError

T = TypeVar("T")

# Scripts read KEYS and ARGV, and `mget(keys, i, j)` for the values of keys[i..j]: a multi-key
# command inside a script must still be of one slot, so on a cluster that is a GET per key.
_PROLOGUE = """local function mget(keys, i, j) return redis.call('MGET', unpack(keys, i, j)) end
"""
# The same, unpacking "<n>, n keys, the arguments" from ARGV into local KEYS and ARGV.
_CLUSTER_PROLOGUE = """#!lua flags=allow-cross-slot-keys
local KEYS, ARGV = {}, ARGV
do
  local n = tonumber(ARGV[1])
  local rest = {}
  for i = 1, n do KEYS[i] = ARGV[i + 1] end
  for i = n + 2, #ARGV do rest[#rest + 1] = ARGV[i] end
  ARGV = rest
end
local function mget(keys, i, j)
  local values = {}
  for k = i, j do values[#values + 1] = redis.call('GET', keys[k]) end
  return values
end
"""


def clustered(redis: Redis) -> bool:
    """Whether this client speaks to a Redis Cluster."""
    return isinstance(redis, RedisCluster)


async def reread_slot_map(redis: RedisCluster) -> None:
    """Read the cluster's slot map again (a failover, a slot moved), under the client's own
    lock: redis-py re-reads it there too, and two readings at once trample each other's node
    tables ("dictionary changed size during iteration")."""
    if redis._lock is None:  # made by redis-py on first use, as here
        redis._lock = asyncio.Lock()
    async with redis._lock:
        await redis.nodes_manager.initialize()


def masters(redis: Redis) -> int:
    """How many masters share the keys (1 on a single Redis)."""
    if not isinstance(redis, RedisCluster):
        return 1
    return max(1, len(redis.get_primaries()))


def by_node(redis: Redis, tags: Sequence[bytes]) -> list[tuple[ClusterNode | None, list[int]]]:
    """The positions of `tags` (the hash tags of some keys: what is between their braces)
    grouped by the master that serves each (by the client's slot map); one group, with no
    node, on a single Redis."""
    if not isinstance(redis, RedisCluster):
        return [(None, list(range(len(tags))))]
    # The slot map read directly, and the slot worked out as Redis does (CRC16 of the tag,
    # mod 16384): a fan-out groups tens of thousands of keys, and redis-py's
    # get_node_from_key costs several times more per key.
    slots = redis.nodes_manager.slots_cache
    groups: dict[str, tuple[ClusterNode, list[int]]] = {}
    for position, tag in enumerate(tags):
        served = slots.get(crc_hqx(tag, 0) & 0x3FFF)
        if not served:
            raise SlotNotCoveredError(f"No master serves the slot of {{{tag.decode()}}} now.")
        node = served[0]
        group = groups.get(node.name)
        if group is None:
            group = groups[node.name] = (node, [])
        group[1].append(position)
    return list(groups.values())


class NodeScript:
    """A Lua script over keys of many slots (see the module's notes)."""

    def __init__(self, redis: Redis, source: str) -> None:
        self._redis = redis
        self._cluster_source = _CLUSTER_PROLOGUE + source
        self._script = None if clustered(redis) else redis.register_script(_PROLOGUE + source)

    async def run(
        self,
        items: Sequence[T],
        tag_of: Callable[[T], bytes],
        build: Callable[[list[T]], tuple[list[str], list[Any]]],
    ) -> list[Any]:
        """Run the script over `items`: they are grouped by the node of the hash tag
        `tag_of(item)` (every key `build` makes for an item carries it), `build` gives the
        keys and arguments of one group's call, and the calls' replies come back in no set
        order."""
        if not items:
            return []
        if self._script is not None:
            keys, args = build(list(items))
            return [await cast(Awaitable[Any], self._script(keys, args))]
        groups = by_node(self._redis, [tag_of(item) for item in items])

        async def call(node: ClusterNode | None, positions: list[int]) -> Any:
            keys, args = build([items[p] for p in positions])
            return await cast(RedisCluster, self._redis).execute_command(
                "EVAL", self._cluster_source, 0, len(keys), *keys, *args, target_nodes=node
            )

        return list(await asyncio.gather(*(call(node, positions) for node, positions in groups)))
