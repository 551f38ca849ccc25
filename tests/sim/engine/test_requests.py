"""Requests into sequences: lengths checked against the context, the output decided up front."""

from __future__ import annotations

import pytest

from infleet.sim.engine.model.requests import InvalidRequestError, new_sequence
from infleet.sim.engine.model.sampling import SamplingParams


def _new(prompt: str | list[int], params: SamplingParams) -> None:
    new_sequence(
        "r",
        prompt,
        params,
        max_model_len=64,
        block_size=16,
        prefix_caching=True,
        arrival=1.0,
    )


def test_the_same_request_gets_the_same_output_and_blocks() -> None:
    first = new_sequence(
        "a",
        "hello there",
        SamplingParams(max_tokens=8, seed=3),
        max_model_len=64,
        block_size=4,
        prefix_caching=True,
        arrival=0.0,
    )
    again = new_sequence(
        "b",
        "hello there",
        SamplingParams(max_tokens=8, seed=3),
        max_model_len=64,
        block_size=4,
        prefix_caching=True,
        arrival=5.0,
    )
    assert first.output_pieces == again.output_pieces
    assert first.block_hashes == again.block_hashes
    assert 1 <= first.max_output <= 8
    assert again.arrival == 5.0


def test_an_empty_prompt_is_one_token() -> None:
    seq = new_sequence(
        "r",
        [],
        SamplingParams(max_tokens=2),
        max_model_len=64,
        block_size=16,
        prefix_caching=False,
        arrival=0.0,
    )
    assert seq.prompt_token_ids == [0]
    assert seq.block_hashes == []


def test_requests_that_cannot_fit_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidRequestError, match="max_tokens must be at least 1, got 0"):
        _new("hi", SamplingParams(max_tokens=0))
    with pytest.raises(InvalidRequestError, match="maximum context length is 64 tokens"):
        _new(list(range(60)), SamplingParams(max_tokens=10))
    with pytest.raises(InvalidRequestError, match="maximum context length"):
        _new(list(range(64)), SamplingParams())
