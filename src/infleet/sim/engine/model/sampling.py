"""The request fields that shape a sequence's output (what vLLM calls sampling parameters)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SamplingParams:
    """The request fields that shape the output."""

    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    ignore_eos: bool = False
    min_tokens: int = 0
    json_mode: bool = False
    json_schema: dict[str, object] | None = None
    cache_salt: str | None = None
