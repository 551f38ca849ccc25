"""Requests into sequences: tokenize the prompt, check it against the context, decide the output.

The output is decided here, up front and deterministically (seeded by the prompt, the request's seed
and its max_tokens), so the scheduler only moves counters over it.
"""

from __future__ import annotations

import zlib

from infleet.sim.engine.model.kv_cache import block_hashes
from infleet.sim.engine.model.sampling import SamplingParams
from infleet.sim.engine.model.sequence import Sequence
from infleet.sim.engine.model.textgen import plan_output
from infleet.sim.engine.model.tokenizer import encode


class InvalidRequestError(ValueError):
    """A request the engine cannot serve as asked (vLLM answers 400); the message says why."""


def new_sequence(
    request_id: str,
    prompt: str | list[int],
    params: SamplingParams,
    *,
    max_model_len: int,
    block_size: int,
    prefix_caching: bool,
    arrival: float,
) -> Sequence:
    """Tokenize, check lengths against ``max_model_len`` and decide the output."""
    token_ids = encode(prompt) if isinstance(prompt, str) else list(prompt)
    prompt_len = len(token_ids)
    if prompt_len == 0:
        token_ids, prompt_len = [0], 1
    room = max_model_len - prompt_len
    if params.max_tokens is not None and params.max_tokens < 1:
        raise InvalidRequestError(f"max_tokens must be at least 1, got {params.max_tokens}.")
    if room < 1 or (params.max_tokens is not None and params.max_tokens > room):
        asked = params.max_tokens or 1
        raise InvalidRequestError(
            f"This model's maximum context length is {max_model_len} tokens. However, you requested "
            f"{prompt_len + asked} tokens ({prompt_len} in the messages, {asked} in the completion). "
            "Please reduce the length of the messages or completion."
        )
    seed_text = f"{prompt if isinstance(prompt, str) else token_ids[:64]}|{params.seed}|{params.max_tokens}"
    out = plan_output(
        seed=zlib.crc32(seed_text.encode()),
        limit=params.max_tokens or room,
        ignore_eos=params.ignore_eos,
        min_tokens=params.min_tokens,
        stop=params.stop,
        json_schema=params.json_schema,
        json_mode=params.json_mode,
    )
    hashes = block_hashes(token_ids, block_size, params.cache_salt) if prefix_caching else []
    return Sequence(
        request_id=request_id,
        prompt_token_ids=token_ids,
        output_pieces=out.pieces,
        finish_reason=out.finish_reason,
        stop_reason=out.stop_reason,
        arrival=arrival,
        block_hashes=hashes,
    )
