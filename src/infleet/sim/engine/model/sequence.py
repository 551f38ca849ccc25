"""One request's life inside the simulated engine: its tokens, KV blocks, progress and timestamps.

Created by the engine runtime (or tests) and advanced by the scheduler. The output text is decided
up front (it is deterministic), so the scheduler only moves counters and the runtime reads the pieces
produced so far. What the host did with them (listener, text sent) is the runtime's ``Delivery``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(eq=False, slots=True)
class Sequence:
    """A request as the scheduler sees it (vLLM: prompt plus output tokens, computed up to a point)."""

    request_id: str
    prompt_token_ids: list[int]
    output_pieces: list[str]  # the text of each output token, decided at admission
    finish_reason: str  # reported once every output piece is produced: "stop" or "length"
    arrival: float
    stop_reason: str | None = None
    block_hashes: list[int] = field(default_factory=list)

    status: Status = Status.WAITING
    num_computed: int = 0  # tokens whose KV entries exist
    num_output: int = 0  # output tokens sampled so far
    blocks: list[int] = field(default_factory=list)
    num_registered: int = 0  # leading blocks whose hash is registered
    cached_tokens: int = 0  # prompt tokens served from the prefix cache on first admission
    preemptions: int = 0
    aborted: bool = False
    first_scheduled: float | None = None
    first_token_time: float | None = None
    last_token_time: float | None = None
    finished_time: float | None = None
    token_times: list[float] | None = None  # kept only when a test or benchmark asks for them

    prompt_len: int = field(init=False)
    max_output: int = field(init=False)  # the output is decided up front

    def __post_init__(self) -> None:
        self.prompt_len = len(self.prompt_token_ids)
        self.max_output = len(self.output_pieces)

    @property
    def num_tokens(self) -> int:
        return self.prompt_len + self.num_output

    @property
    def done(self) -> bool:
        return self.status is Status.FINISHED

    @property
    def reported_finish_reason(self) -> str:
        return "abort" if self.aborted else self.finish_reason

    def text_between(self, start: int, end: int) -> str:
        return "".join(self.output_pieces[start:end])
