"""The prefix index corrected by the cached tokens engines report: a reported miss drops the blocks
the index last sent to that replica no later than the evicted ones; a hit keeps them; a replica that
never reported a count is not judged by a missing one."""

from __future__ import annotations

from infleet.scheduling.routing import PrefixIndex
from infleet.scheduling.routing.prefix import PREFIX_BLOCK_BYTES

BLOCKS = 4
PROMPT_BYTES = BLOCKS * PREFIX_BLOCK_BYTES
PROMPT_TOKENS = PROMPT_BYTES // 4  # about four bytes of JSON per token


def prompt(tag: int) -> tuple[int, ...]:
    """Chained-looking block hashes unique to `tag`."""
    return tuple(tag * 100 + i for i in range(BLOCKS))


def test_a_reported_miss_drops_what_was_sent_there_no_later_than_the_evicted_blocks() -> None:
    index = PrefixIndex()
    for tag in (1, 2, 3):
        index.record("r", prompt(tag), PROMPT_BYTES)
    index.record("r", prompt(2), PROMPT_BYTES).settle(PROMPT_TOKENS, PROMPT_TOKENS - 1)  # hit: r reports
    claim = index.record("r", prompt(3), PROMPT_BYTES)  # the index believes r holds all of it
    assert claim.stamps
    assert len(claim.stamps) == BLOCKS

    assert claim.settle(PROMPT_TOKENS, 0) == "evicted"

    assert index.matched("r", prompt(1)) == 0  # older than prompt 3's last visit: gone with it
    assert index.matched("r", prompt(3)) == BLOCKS  # just prefilled again: cached now
    assert index.matched("r", prompt(2)) == BLOCKS  # confirmed after prompt 3 was last sent there


def test_a_partial_hit_keeps_the_blocks_it_covers() -> None:
    index = PrefixIndex()
    index.record("r", prompt(1), PROMPT_BYTES)
    index.record("r", prompt(9), PROMPT_BYTES).settle(PROMPT_TOKENS, 16)  # r reports counts
    older = index.record("r", prompt(2), PROMPT_BYTES)
    index.record("r", prompt(3), PROMPT_BYTES)
    index.record("r", prompt(1), PROMPT_BYTES)  # refreshed after prompt 2
    claim = index.record("r", prompt(2), PROMPT_BYTES)
    assert older.stamps == ()  # a cold prompt claims nothing

    # Half the prompt came from the cache: blocks 0-1 confirmed, block 2 onwards evicted.
    assert claim.settle(PROMPT_TOKENS, PROMPT_TOKENS // 2) == "evicted"
    assert index.matched("r", prompt(2)) == BLOCKS
    assert index.matched("r", prompt(1)) == BLOCKS  # sent there after prompt 2's evicted blocks
    assert index.matched("r", prompt(9)) == 0


def test_a_full_hit_within_the_engines_rounding_confirms_and_drops_nothing() -> None:
    index = PrefixIndex()
    index.record("r", prompt(1), PROMPT_BYTES)
    index.record("r", prompt(2), PROMPT_BYTES)
    claim = index.record("r", prompt(2), PROMPT_BYTES)
    # vLLM counts whole 16-token blocks and recomputes the last prompt token.
    assert claim.settle(PROMPT_TOKENS, PROMPT_TOKENS - 17) == "hit"
    assert index.matched("r", prompt(1)) == BLOCKS


def test_no_count_reads_as_zero_only_from_a_replica_that_reported_counts() -> None:
    index = PrefixIndex()
    index.record("quiet", prompt(1), PROMPT_BYTES)
    index.record("quiet", prompt(2), PROMPT_BYTES)
    assert index.record("quiet", prompt(2), PROMPT_BYTES).settle(PROMPT_TOKENS, None) == "unknown"
    assert index.matched("quiet", prompt(1)) == BLOCKS  # no prompt_tokens_details: nothing learnt

    for tag in (3, 1, 2):
        index.record("vllm", prompt(tag), PROMPT_BYTES)
    assert index.record("vllm", prompt(2), PROMPT_BYTES).settle(PROMPT_TOKENS, PROMPT_TOKENS - 1) == "hit"
    # vLLM sends null details when nothing came from the cache.
    assert index.record("vllm", prompt(1), PROMPT_BYTES).settle(PROMPT_TOKENS, None) == "evicted"
    assert index.matched("vllm", prompt(3)) == 0
    assert index.matched("vllm", prompt(2)) == BLOCKS


def test_feedback_on_one_replica_leaves_the_others_alone_and_retain_forgets_the_departed() -> None:
    index = PrefixIndex()
    for replica in ("a", "b"):
        index.record(replica, prompt(1), PROMPT_BYTES)
        index.record(replica, prompt(2), PROMPT_BYTES)
    index.record("a", prompt(2), PROMPT_BYTES).settle(PROMPT_TOKENS, 0)
    assert index.matched("a", prompt(1)) == 0
    assert index.matched("b", prompt(1)) == BLOCKS
    index.retain({"a"})
    assert index.matched("b", prompt(1)) == 0


def test_the_index_believes_no_more_than_a_replica_kv_cache_holds() -> None:
    # A 64-token cache holds 64 x 4 bytes = 256 bytes: less than one prompt's 2 kB. It keeps the newest
    # prompt (the one just prefilled) and forgets the older ones, as the engine's LRU would.
    small, large = 64, 1_000_000
    index = PrefixIndex()
    for tag in (1, 2, 3):
        index.record("small", prompt(tag), PROMPT_BYTES, kv_tokens=small)
        index.record("large", prompt(tag), PROMPT_BYTES, kv_tokens=large)
    assert [index.matched("small", prompt(t)) for t in (1, 2, 3)] == [0, 0, BLOCKS]
    assert [index.matched("large", prompt(t)) for t in (1, 2, 3)] == [BLOCKS] * 3
    # Two prompts' worth (2 x 2 kB at 4 bytes a token = 1,024 tokens): the oldest goes.
    index.record("two", prompt(1), PROMPT_BYTES, kv_tokens=1024)
    index.record("two", prompt(2), PROMPT_BYTES, kv_tokens=1024)
    index.record("two", prompt(3), PROMPT_BYTES, kv_tokens=1024)
    assert [index.matched("two", prompt(t)) for t in (1, 2, 3)] == [0, BLOCKS, BLOCKS]


def test_bytes_per_token_is_learned_from_answers() -> None:
    index = PrefixIndex()
    for _ in range(200):  # prompts of 2 bytes a token (dense JSON, non-English text)
        index.record("r", prompt(1), PROMPT_BYTES).settle(PROMPT_BYTES // 2, 0)
    assert abs(index.bytes_per_token - 2.0) < 0.05
