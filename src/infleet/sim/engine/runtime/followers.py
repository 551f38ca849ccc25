"""Followers: the engine's listeners that turn a sequence's progress into its HTTP response.

The engine calls a follower with a sequence's ``Delivery`` when the sequence produces its first token,
when new text is due and when it ends; the follower writes straight into the response, so a stream
costs no task and no future. A follower detaches itself from its deliveries when the response ends, so
nothing the engine still holds keeps the response alive.
"""

from __future__ import annotations

from collections.abc import Callable

from infleet.sim.engine.model.sequence import Sequence
from infleet.sim.engine.runtime.delivery import Delivery
from infleet.sim.engine.runtime.engine import SimEngine
from infleet.sim.engine.runtime.errors import EngineError, send_error
from infleet.sim.engine.runtime.http_server import Response
from infleet.sim.engine.runtime.protocol import DONE, ChunkEncoder, sse


def engine_failure(engine: SimEngine, error: str) -> EngineError:
    """The error a client gets when the engine died under its request."""
    return EngineError(503, "ServiceUnavailableError", f"engine {engine.served_model_name}: {error}")


class StreamFollower:
    """Writes one sequence's SSE chunks (vLLM's shape) as the engine produces its tokens."""

    __slots__ = ("_echo", "_encoder", "_engine", "_first", "_response")

    def __init__(self, engine: SimEngine, encoder: ChunkEncoder, response: Response, echo: str = "") -> None:
        self._engine = engine
        self._encoder = encoder
        self._response = response
        self._echo = echo
        self._first = True

    def follow(self, seq: Sequence) -> None:
        """Send the response head and submit ``seq``; a client that leaves aborts it."""
        self._response.start(200, SSE_HEADERS)
        engine = self._engine
        self._response.on_close = lambda: engine.abort(seq)
        engine.submit(seq, self, streaming=True)

    def __call__(self, delivery: Delivery) -> None:
        response = self._response
        if response.closed:
            delivery.listener = None
            return
        seq = delivery.seq
        end = seq.num_output
        text = seq.text_between(delivery.sent, end)
        delivery.sent = end
        delivery.last_flush = self._engine.now()
        lead = b""
        if self._first:
            self._first = False
            lead = self._encoder.role() if self._encoder.kind == "chat" else b""
            text = self._echo + text
        if not seq.done:
            if text or lead:
                response.write(lead + self._encoder.content(text))
            return
        delivery.listener = None
        if delivery.error is not None:
            response.end(lead + sse(engine_failure(self._engine, delivery.error).body()) + DONE)
            return
        tail = self._encoder.final(text, seq.reported_finish_reason, seq.stop_reason)
        if self._encoder.include_usage:
            cached = seq.cached_tokens if self._engine.spec.enable_prompt_tokens_details else None
            tail += self._encoder.usage(seq.prompt_len, seq.num_output, cached)
        response.end(lead + tail + DONE)


class CompletionFollower:
    """Waits for every sequence of a non-streaming request, then hands them to ``reply``; answers 503
    instead when the engine died under any of them."""

    __slots__ = ("_engine", "_errors", "_left", "_reply", "_response", "_seqs")

    def __init__(
        self,
        engine: SimEngine,
        seqs: list[Sequence],
        response: Response,
        reply: Callable[[list[Sequence]], None],
    ) -> None:
        self._engine = engine
        self._seqs = seqs
        self._response = response
        self._reply = reply
        self._left = len(seqs)
        self._errors: dict[Sequence, str] = {}

    def follow(self) -> None:
        self._response.on_close = self._abandon
        for seq in self._seqs:
            self._engine.submit(seq, self, streaming=False)

    def _abandon(self) -> None:
        for seq in self._seqs:
            self._engine.abort(seq)

    def __call__(self, delivery: Delivery) -> None:
        seq = delivery.seq
        if not seq.done or delivery.listener is None:
            return  # a first token; a non-streaming response waits for the end
        delivery.listener = None
        if delivery.error is not None:
            self._errors[seq] = delivery.error
        self._left -= 1
        if self._left == 0 and not self._response.closed:
            self._answer()

    def _answer(self) -> None:
        # The first sequence in request order that failed decides the error, as vLLM reports it.
        error = next((self._errors[s] for s in self._seqs if s in self._errors), None)
        if error is not None:
            send_error(self._response, engine_failure(self._engine, error))
        else:
            self._reply(self._seqs)


SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
