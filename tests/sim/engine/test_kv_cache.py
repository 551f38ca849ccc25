"""Block pool: allocation limits, prefix reuse through hashes, and LRU eviction of released blocks."""

from __future__ import annotations

from infleet.sim.engine.model.kv_cache import BlockManager, block_hashes


def test_allocation_is_all_or_nothing() -> None:
    pool = BlockManager(4, 16)
    assert pool.allocate(3) is not None
    assert pool.allocate(2) is None
    assert pool.num_free == 1
    assert pool.usage == 0.75


def test_released_prefix_is_reused_until_evicted() -> None:
    pool = BlockManager(4, 2)
    hashes = block_hashes([1, 2, 3, 4], 2)
    blocks = pool.allocate(2)
    assert blocks is not None
    for block, h in zip(blocks, hashes, strict=True):
        pool.register(block, h)
    pool.release(blocks)
    assert pool.cached_prefix(hashes) == 2
    assert pool.acquire_prefix(hashes) == blocks
    pool.release(blocks)
    # Fill the pool: fresh blocks go first, then the LRU cached ones are evicted.
    taken = pool.allocate(4)
    assert taken is not None
    assert pool.evictions == 2
    assert pool.cached_prefix(hashes) == 0


def test_hashes_chain_and_salt_isolates() -> None:
    a = block_hashes([1, 2, 3, 4], 2)
    b = block_hashes([9, 9, 3, 4], 2)
    assert a[1] != b[1]  # same second block, different prefix
    assert block_hashes([1, 2], 2, salt="tenant-a") != block_hashes([1, 2], 2, salt="tenant-b")
    assert block_hashes([1, 2, 3], 2) == block_hashes([1, 2, 3, 5], 2)[:1]


def test_shared_block_survives_one_release() -> None:
    pool = BlockManager(2, 2)
    blocks = pool.allocate(1)
    assert blocks is not None
    pool.register(blocks[0], 42)
    again = pool.acquire_prefix([42])
    assert again == blocks
    pool.release(blocks)
    assert pool.num_used == 1
    pool.release(again)
    assert pool.num_used == 0
