"""Per-action budgets per account, shared by every process (Mastodon's are the anchor): how
many follows, posts, comments, messages to strangers, reports and uploads an account may make
in a window, with a quarter of that for an account younger than a week (where spam comes
from). A sliding log in Redis (one sorted set per account and action), so a window never
doubles at its edge as a fixed one does; a refusal says when the oldest use leaves it.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis

from domain.ratelimit import RateLimited

NEW_ACCOUNT_AGE = timedelta(days=7)
NEW_ACCOUNT_SHARE = 0.25


@dataclass(frozen=True)
class Budget:
    uses: int
    window_seconds: int


DEFAULT_BUDGETS = {
    "follow": Budget(400, 86_400),
    "post": Budget(100, 3 * 3_600),
    "comment": Budget(200, 3_600),
    "message": Budget(500, 3_600),  # to people who do not follow the sender
    "report": Budget(100, 86_400),
    "upload": Budget(30, 1_800),
}
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_ENTRY = re.compile(r"^\s*([a-z]+)\s*=\s*(\d+)\s*/\s*(\d+)\s*([smhd]?)\s*$")


def parse_budgets(text: str) -> dict[str, Budget]:
    """The defaults with ACTION_BUDGETS' overrides ("follow=400/1d,post=100/3h"); ValueError
    for anything else."""
    budgets = dict(DEFAULT_BUDGETS)
    for part in (p for p in text.split(",") if p.strip()):
        match = _ENTRY.match(part)
        if match is None or match[1] not in DEFAULT_BUDGETS:
            raise ValueError(
                f"{part.strip()!r}: write action=uses/window, window in s, m, h or d, for one of"
                f" {', '.join(DEFAULT_BUDGETS)} (e.g. follow=400/1d)"
            )
        window = int(match[3]) * _UNITS[match[4] or "s"]
        if window < 1:
            raise ValueError(f"{part.strip()!r}: the window must be at least one second")
        budgets[match[1]] = Budget(int(match[2]), window)
    return budgets


# KEYS: the log; ARGV: now (ms), window (ms), uses, a unique member. Returns 0 when spent, or
# the ms until the oldest use leaves the window.
_SPEND = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
  return math.max(tonumber(oldest) + window - now, 1)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class Budgets:
    def __init__(self, redis: Redis, budgets: dict[str, Budget]) -> None:
        self._redis = redis
        self._budgets = budgets
        self._spend = redis.register_script(_SPEND)

    def budget_for(self, action: str, account_created_at: datetime) -> Budget:
        budget = self._budgets[action]
        if datetime.now(UTC) - account_created_at < NEW_ACCOUNT_AGE:
            return Budget(max(1, int(budget.uses * NEW_ACCOUNT_SHARE)), budget.window_seconds)
        return budget

    async def spend(self, action: str, *, user_id: int, account_created_at: datetime) -> str:
        """Use one of the account's `action`s, or raise RateLimited saying when one is back.
        Returns the use, for `refund` should the action itself be refused."""
        budget = self.budget_for(action, account_created_at)
        now_ms = int(time.time() * 1000)
        use = f"{now_ms}:{secrets.token_hex(4)}"
        wait_ms = int(
            await cast(
                Any,
                self._spend(
                    [_key(user_id, action)],
                    [now_ms, budget.window_seconds * 1000, budget.uses, use],
                ),
            )
        )
        if wait_ms:
            raise RateLimited(
                math.ceil(wait_ms / 1000),
                f"You have reached the limit of {budget.uses} {action}s in"
                f" {_window_text(budget.window_seconds)}; try again later.",
            )
        return use

    async def refund(self, action: str, *, user_id: int, use: str) -> None:
        """Give back a use whose action did not happen (it was refused)."""
        await cast(Any, self._redis.zrem(_key(user_id, action), use))


def _key(user_id: int, action: str) -> str:
    return f"budget:{{{user_id}}}:{action}"


def _window_text(seconds: int) -> str:
    for size, name in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {name}s" if count != 1 else f"a {name}"
    return f"{seconds} seconds"
