"""Paged KV-cache block manager with prefix caching, in the manner of vLLM's V1 block pool.

The scheduler allocates fixed-size blocks as sequences grow and releases them when sequences finish
or are preempted. Full prompt blocks are registered under a chained hash; a released block keeps its
hash and sits in an LRU queue, so a later request with the same prefix reuses it until it is evicted.
Written here rather than borrowed because no library models a GPU block pool.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Sequence


def block_hashes(token_ids: Sequence[int], block_size: int, salt: str | None = None) -> list[int]:
    """Chained hashes of the full blocks of ``token_ids`` (a block's hash covers its whole prefix)."""
    parent = zlib.crc32(salt.encode()) if salt else 0
    hashes: list[int] = []
    for start in range(0, len(token_ids) - block_size + 1, block_size):
        parent = hash((parent, *token_ids[start : start + block_size]))
        hashes.append(parent)
    return hashes


class BlockManager:
    """A fixed pool of KV blocks: allocation, reference counts, prefix lookup and LRU eviction."""

    def __init__(self, num_blocks: int, block_size: int, *, enable_prefix_caching: bool = True) -> None:
        if num_blocks < 1 or block_size < 1:
            raise ValueError(
                f"BlockManager: num_blocks and block_size must be >= 1 ({num_blocks}, {block_size})"
            )
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.enable_prefix_caching = enable_prefix_caching
        self._refs: dict[int, int] = {}
        self._fresh_next = 0  # ids >= this have never been handed out
        self._plain_free: list[int] = []  # released blocks that carry no hash
        self._evictable: OrderedDict[int, None] = OrderedDict()  # released blocks with a hash, LRU first
        self._hash_of: dict[int, int] = {}
        self._by_hash: dict[int, int] = {}
        self.evictions = 0

    @property
    def num_free(self) -> int:
        return (self.num_blocks - self._fresh_next) + len(self._plain_free) + len(self._evictable)

    @property
    def num_used(self) -> int:
        return self.num_blocks - self.num_free

    @property
    def usage(self) -> float:
        """Fraction of blocks held by live sequences (vllm:kv_cache_usage_perc, 0-1)."""
        return self.num_used / self.num_blocks

    def cached_prefix(self, hashes: Sequence[int]) -> int:
        """How many leading blocks of ``hashes`` are cached, without taking them."""
        if not self.enable_prefix_caching:
            return 0
        count = 0
        for h in hashes:
            if h not in self._by_hash:
                break
            count += 1
        return count

    def acquire_prefix(self, hashes: Sequence[int]) -> list[int]:
        """Take references on the cached leading blocks of ``hashes``; returns their ids."""
        taken: list[int] = []
        if not self.enable_prefix_caching:
            return taken
        by_hash, refs, evictable = self._by_hash, self._refs, self._evictable
        for h in hashes:  # one pass: look up and take each leading block until the first miss
            block = by_hash.get(h)
            if block is None:
                break
            count = refs.get(block, 0)
            if count == 0:
                evictable.pop(block, None)
            refs[block] = count + 1
            taken.append(block)
        return taken

    def allocate(self, count: int) -> list[int] | None:
        """``count`` new blocks, or None (and nothing taken) when the pool cannot supply them."""
        if count <= 0:
            return []
        if count > self.num_free:
            return None
        # Plain free blocks first (most recently freed first), then never-used ones, then the least
        # recently used cached ones; taken a source at a time, as a request takes tens of blocks at once.
        plain = self._plain_free
        take = min(count, len(plain))
        out = plain[: -take - 1 : -1] if take else []
        del plain[len(plain) - take :]
        left = count - take
        if left:
            fresh = min(left, self.num_blocks - self._fresh_next)
            out.extend(range(self._fresh_next, self._fresh_next + fresh))
            self._fresh_next += fresh
            left -= fresh
        if left:
            evictable, hash_of, by_hash = self._evictable, self._hash_of, self._by_hash
            for _ in range(left):
                block, _ = evictable.popitem(last=False)
                block_hash = hash_of.pop(block)
                if by_hash.get(block_hash) == block:
                    del by_hash[block_hash]
                out.append(block)
            self.evictions += left
        self._refs.update(dict.fromkeys(out, 1))
        return out

    def register(self, block: int, block_hash: int) -> None:
        """Mark a full block as holding the prefix ``block_hash`` so later requests can share it."""
        if not self.enable_prefix_caching or block in self._hash_of or block_hash in self._by_hash:
            return
        self._hash_of[block] = block_hash
        self._by_hash[block_hash] = block

    def register_range(self, blocks: Sequence[int], hashes: Sequence[int], start: int, stop: int) -> None:
        """``register(blocks[i], hashes[i])`` for ``i`` in ``range(start, stop)``, in one call: a prompt
        registers tens of blocks when its prefill completes, once per request."""
        if not self.enable_prefix_caching:
            return
        hash_of, by_hash = self._hash_of, self._by_hash
        for block, block_hash in zip(blocks[start:stop], hashes[start:stop], strict=True):
            if block not in hash_of and block_hash not in by_hash:
                hash_of[block] = block_hash
                by_hash[block_hash] = block

    def release(self, blocks: Sequence[int]) -> None:
        """Drop one reference on each block; the tail is released first so prefixes outlive it in the LRU."""
        refs, hash_of, evictable, plain_free = self._refs, self._hash_of, self._evictable, self._plain_free
        for block in reversed(blocks):
            count = refs[block] - 1
            if count > 0:
                refs[block] = count
            else:
                del refs[block]
                if block in hash_of:
                    evictable[block] = None
                else:
                    plain_free.append(block)
