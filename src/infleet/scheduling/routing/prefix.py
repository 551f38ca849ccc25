"""Prefix-cache affinity: chained hashes of a prompt's leading blocks, and an approximate index of
which replica has seen which blocks, built from the gateway's own routing history (like GIE's prefix
scorer) and corrected by what engines report back (``usage.prompt_tokens_details.cached_tokens``).
Called by the prefix-cache scorer, by the gateway when it reads a request body and when it reads usage.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

# Bytes of prompt per hashed block: small enough that a shared system prompt spans several.
PREFIX_BLOCK_BYTES = 512
# What a reported cached-token count may fall short of the blocks it covers and still confirm them: vLLM
# counts whole KV blocks of 16 tokens and always recomputes the prompt's last token, and the prompt's
# bytes (JSON) map to tokens only roughly; half a block of bytes absorbs both.
CACHED_SLACK_BYTES = PREFIX_BLOCK_BYTES // 2

Verdict = Literal["hit", "evicted", "unknown"]

# Prompt bytes per token until answers teach the ratio (English prose and code run about four).
_BYTES_PER_TOKEN = 4.0


def prefix_blocks(
    data: bytes | memoryview, salt: str = "", block_size: int = PREFIX_BLOCK_BYTES, max_blocks: int = 128
) -> tuple[int, ...]:
    """Hashes of the leading `max_blocks` full blocks; each hash covers every byte before it, so a
    match on block i implies a match on all earlier blocks. A trailing partial block is ignored.
    CRC-32 chained over zero-copy slices hashes 64 kB in ~20 us; a rare collision only misplaces
    one request's affinity, which load scoring absorbs."""
    out: list[int] = []
    h = zlib.crc32(salt.encode())
    end = min(len(data) // block_size, max_blocks) * block_size
    view = memoryview(data)
    for start in range(0, end, block_size):
        h = zlib.crc32(view[start : start + block_size], h)
        out.append(h)
    return tuple(out)


class PrefixIndex:
    """Per-replica LRU of block hashes, each stamped with the routing decision that last sent it
    there (its time where the caller gives one; stamps only ever grow). Memory is bounded by
    `capacity` entries per replica.

    Engines evict on their own, so the index only guesses; the answers correct it. A replica that
    reports fewer cached prompt tokens than the index believed it held has evicted the blocks past
    them, and every block the index last sent there no later than those is likely gone too (engines
    evict the least recently used first): they are dropped for that replica. A reported hit confirms
    the blocks, which the decision already refreshed.

    Where the replica's KV-cache size is known (vLLM's cache_config_info), the index believes it holds
    no more blocks than fit there, evicting its oldest first as the engine would. Without that, a
    fast replica with a small cache keeps looking like the holder of every prefix it ever served and
    wins prompts it must prefill cold; answers correct the index only after such a miss."""

    def __init__(self, capacity: int = 65536) -> None:
        self.capacity = capacity
        self._blocks: dict[str, OrderedDict[int, float]] = {}
        self._stamp = 0.0  # one per recorded routing decision; order of entries is order of stamps
        self._reporting: set[str] = set()  # replicas known to report cached tokens
        self.bytes_per_token = _BYTES_PER_TOKEN  # learned from answers' prompt token counts

    def matched(self, replica: str, prefix: tuple[int, ...]) -> int:
        """How many leading blocks of `prefix` the replica has seen."""
        blocks = self._blocks.get(replica)
        if not blocks:
            return 0
        count = 0
        for h in prefix:
            if h not in blocks:
                break
            count += 1
        return count

    def record(
        self,
        replica: str,
        prefix: tuple[int, ...],
        prompt_bytes: int = 0,
        kv_tokens: int = 0,
        now: float = 0.0,
    ) -> CacheClaim:
        """Notes that `prefix` was sent to `replica` at `now` (monotonic seconds); the claim says what
        the index believed it held, for `settle` to check against the answer. `prompt_bytes` is the
        size the blocks came from; `kv_tokens` the replica's KV-cache size, 0 if unknown."""
        blocks = self._blocks.get(replica)
        if blocks is None:
            blocks = self._blocks[replica] = OrderedDict()
        # Strictly increasing, so two decisions in one clock tick still order.
        self._stamp = stamp = now if now > self._stamp else self._stamp + 1e-6
        believed: list[float] = []  # former stamps of the leading blocks the replica was believed to hold
        leading = True
        for h in prefix:
            former = blocks.get(h)
            if former is None:
                leading = False
            else:
                if leading:
                    believed.append(former)
                blocks.move_to_end(h)
            blocks[h] = stamp
        limit = max(len(prefix), self._limit(kv_tokens))
        while len(blocks) > limit:
            blocks.popitem(last=False)
        return CacheClaim(self, replica, tuple(believed), prompt_bytes)

    def _limit(self, kv_tokens: int) -> int:
        """Blocks a replica can hold: its KV cache in prompt bytes where known, else the index's cap."""
        if kv_tokens <= 0:
            return self.capacity
        return min(self.capacity, int(kv_tokens * self.bytes_per_token) // PREFIX_BLOCK_BYTES)

    def eviction_age(self, replica: str, kv_tokens: int, now: float) -> float | None:
        """Seconds since the replica was last sent what a new prefix there would evict first (its
        least recently routed block), or None while its cache, as the index believes it, has room."""
        blocks = self._blocks.get(replica)
        if not blocks or len(blocks) < self._limit(kv_tokens):
            return None
        return max(0.0, now - next(iter(blocks.values())))

    def settle(self, claim: CacheClaim, prompt_tokens: int, cached_tokens: int | None) -> Verdict:
        """Corrects the index with the cached prompt tokens the replica reported for a claimed request.
        None means the answer carried no count: vLLM sends none when it served no token from its cache,
        so it reads as 0 from a replica that reported counts before, and as nothing from any other."""
        replica = claim.replica
        if prompt_tokens > 0 and claim.prompt_bytes > 0:
            sample = claim.prompt_bytes / prompt_tokens
            self.bytes_per_token += 0.05 * (sample - self.bytes_per_token)
        if cached_tokens is None:
            if replica not in self._reporting:
                return "unknown"
            cached_tokens = 0
        else:
            self._reporting.add(replica)
        believed = claim.stamps
        if not believed:
            return "unknown"
        cached_blocks = claim.blocks_covered(prompt_tokens, cached_tokens)
        if cached_blocks >= len(believed):
            return "hit"
        cutoff = believed[cached_blocks]  # when the first block found evicted was last sent there
        blocks = self._blocks.get(replica)
        while blocks:
            oldest = next(iter(blocks.values()))
            if oldest > cutoff:
                break
            blocks.popitem(last=False)
        return "evicted"

    def forget(self, replica: str) -> None:
        self._blocks.pop(replica, None)
        self._reporting.discard(replica)

    def retain(self, replicas: set[str]) -> None:
        """Forgets every replica not named, so replicas that left leave no blocks behind."""
        for name in [name for name in self._blocks if name not in replicas]:
            self.forget(name)


@dataclass(frozen=True, slots=True)
class CacheClaim:
    """What the index believed one replica held when a request was sent there: the former stamps of
    the request's leading blocks it had seen (empty when it expected a miss)."""

    index: PrefixIndex
    replica: str
    stamps: tuple[float, ...]
    prompt_bytes: int

    def blocks_covered(self, prompt_tokens: int, cached_tokens: int) -> int:
        """Leading blocks the reported cached tokens cover, mapping tokens to bytes by the prompt's share."""
        if prompt_tokens <= 0 or cached_tokens <= 0:
            return 0
        share = min(cached_tokens, prompt_tokens) / prompt_tokens
        return int((share * self.prompt_bytes + CACHED_SLACK_BYTES) // PREFIX_BLOCK_BYTES)

    def settle(self, prompt_tokens: int, cached_tokens: int | None) -> Verdict:
        return self.index.settle(self, prompt_tokens, cached_tokens)
