"""Prefix-cache affinity: chained hashes of a prompt's leading blocks, and an approximate index of
which replica has seen which blocks (built from the gateway's own routing history, like GIE's
prefix scorer). Called by the prefix-cache scorer and by the gateway when it reads a request body.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict

# Bytes of prompt per hashed block: small enough that a shared system prompt spans several.
PREFIX_BLOCK_BYTES = 512


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
    """Per-replica LRU of block hashes. Memory is bounded by `capacity` entries per replica."""

    def __init__(self, capacity: int = 65536) -> None:
        self.capacity = capacity
        self._blocks: dict[str, OrderedDict[int, None]] = {}

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

    def record(self, replica: str, prefix: tuple[int, ...]) -> None:
        blocks = self._blocks.get(replica)
        if blocks is None:
            blocks = self._blocks[replica] = OrderedDict()
        for h in prefix:
            if h in blocks:
                blocks.move_to_end(h)
            else:
                blocks[h] = None
        while len(blocks) > self.capacity:
            blocks.popitem(last=False)

    def forget(self, replica: str) -> None:
        self._blocks.pop(replica, None)
