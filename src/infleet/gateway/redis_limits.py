"""Limits shared by several gateways through Redis (`--redis-url`): the same fixed-window counters
as `LocalLimiter`, checked and counted atomically by one Lua script per request. Concurrency slots
carry a TTL so a gateway that dies does not hold them forever. Called by the proxy per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from infleet.gateway.limits import WINDOW, Denial, LimitPlan, retry_after, window_of

_PARALLEL_TTL = 300

# KEYS: rpm counters, tpm counters, parallel counters. ARGV: counts of each kind, window TTL, limits.
_ACQUIRE = """
local nr, nt, np, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 1, nr + nt + np do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  if v >= tonumber(ARGV[4 + i]) then return i end
end
for i = 1, nr do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ttl)
end
for i = nr + nt + 1, nr + nt + np do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[5 + nr + nt + np]))
end
return 0
"""


class RedisLimiter:
    def __init__(self, url: str, clock: Callable[[], float], prefix: str = "infleet:gw:") -> None:
        self._redis: Any = aioredis.Redis.from_url(url)
        self._clock = clock
        self._prefix = prefix
        self._script: Any = self._redis.register_script(_ACQUIRE)

    def _key(self, name: str, window: int | None) -> str:
        return f"{self._prefix}{name}" if window is None else f"{self._prefix}{name}:{window}"

    async def acquire(self, plan: LimitPlan) -> Denial | None:
        now = self._clock()
        window = window_of(now)
        checks = [*plan.rpm, *plan.tpm, *plan.parallel]
        keys = [self._key(n, window) for n, _ in (*plan.rpm, *plan.tpm)]
        keys += [self._key(n, None) for n, _ in plan.parallel]
        args = [len(plan.rpm), len(plan.tpm), len(plan.parallel), int(WINDOW * 2)]
        args += [limit for _, limit in checks] + [_PARALLEL_TTL]
        failed = int(await self._script(keys=keys, args=args))
        if failed == 0:
            return None
        name, limit = checks[failed - 1]
        return Denial(name, limit, 1.0 if failed > len(plan.rpm) + len(plan.tpm) else retry_after(now))

    async def release(self, plan: LimitPlan) -> None:
        if plan.parallel:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name, _ in plan.parallel:
                    pipe.decr(self._key(name, None))
                await pipe.execute()

    async def charge_tokens(self, plan: LimitPlan, tokens: int) -> None:
        if not plan.tpm or tokens <= 0:
            return
        window = window_of(self._clock())
        async with self._redis.pipeline(transaction=False) as pipe:
            for name, _ in plan.tpm:
                key = self._key(name, window)
                pipe.incrby(key, tokens)
                pipe.expire(key, int(WINDOW * 2))
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()
