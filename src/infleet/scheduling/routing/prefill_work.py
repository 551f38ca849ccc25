"""How much prefill a request asks of a replica, in bytes of prompt the replica has not cached: the unit
in which the gateway learns each replica's prefill speed and estimates time to first token.

Bytes of the request body stand in for tokens (about four to a token in English and code): the gateway
does not tokenize, and every replica of one model shares the ratio, so it cancels out of comparisons.
"""

from __future__ import annotations

from infleet.scheduling.routing.prefix import PREFIX_BLOCK_BYTES

# The least a request counts for. Its first byte also waits on a decode step and the network, which do
# not shrink with the prompt; counting them as this much prompt keeps a replica that serves short or
# cached prompts from looking slow per byte.
PREFILL_FLOOR_BYTES = 1024.0


def uncached_prompt_bytes(prompt_bytes: int, cached_blocks: int) -> float:
    """Prompt bytes left to prefill when the replica holds the first `cached_blocks` prefix blocks."""
    return max(float(prompt_bytes - cached_blocks * PREFIX_BLOCK_BYTES), PREFILL_FLOOR_BYTES)
