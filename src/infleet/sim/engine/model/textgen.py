"""Deterministic output text: readable English-like sentences or JSON, of a planned token length.

The engine calls ``plan_output`` once per request; the same request (prompt, seed, limits) always gets
the same text. Plain text is as long as ``max_tokens`` unless a sampled natural length (where EOS
would fall) comes first; JSON modes produce a valid document (an instance of the schema if given).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from infleet.sim.engine.model.tokenizer import split_pieces

_WORDS = tuple(
    """
    the system cluster model request latency token engine replica region node service traffic gateway
    queue cache memory signal metric alert error rollout placement capacity budget policy version update
    health check response stream batch prefix window pressure spike failure recovery region deployment
    schedule throughput scaling pod container storage network route endpoint upstream observed shows
    remains returns handles keeps needs starts stops moves grows drops waits runs serves sends reads
    writes holds tracks reports meets limits fits spreads balances retries quickly slowly steadily again
    often rarely only still already soon later first next each every many several most some other same
    new old large small busy idle warm cold stable heavy light and but so because while when after
    before during within across under over into from with for about near between through without against
    toward per this that these those its their clear simple careful useful likely possible expected
    recent current previous primary secondary
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_COMMA_ODDS = 0.12
_CORPUS_PIECES = 1 << 14
NATURAL_MEDIAN_TOKENS = 256


@dataclass(frozen=True)
class OutputPlan:
    pieces: list[str]
    finish_reason: str  # "stop" or "length"
    stop_reason: str | None = None


def natural_length(rng: random.Random, median: int = NATURAL_MEDIAN_TOKENS) -> int:
    """Where end-of-sequence would come: log-normal around ``median`` tokens."""
    return max(8, int(median * math.exp(rng.gauss(0.0, 0.6))))


@functools.cache
def _corpus() -> tuple[str, ...]:
    """A fixed stream of sentence pieces; outputs are slices of it, so planning costs no sampling."""
    return tuple(sentence_pieces(random.Random(0), _CORPUS_PIECES))


def warm_up() -> None:
    """Build the corpus now rather than on some request's critical path."""
    _corpus()


def corpus_pieces(seed: int, count: int) -> list[str]:
    """``count`` readable pieces starting at a seed-chosen place in the corpus."""
    corpus = _corpus()
    start = seed % (len(corpus) - 1)
    out = list(corpus[start : start + count])
    while len(out) < count:
        out.extend(corpus[: count - len(out)])
    first = out[0].strip()
    if first.isalpha():
        out[0] = first.capitalize()
    elif first in (".", ",", "") and count > 1:
        out = [*corpus_pieces(seed + 1, 1), *out[1:]]
    return out


def sentence_pieces(rng: random.Random, count: int) -> list[str]:
    """``count`` pieces of readable sentences; each word and each punctuation mark is one piece."""
    pieces: list[str] = []
    words_left = 0
    sentences = 0
    while len(pieces) < count:
        if words_left == 0:
            if pieces:
                pieces.append(".")
                sentences += 1
                if sentences % 5 == 0 and len(pieces) < count:
                    pieces.append("\n\n")
            words_left = rng.randint(6, 14)
            if len(pieces) >= count:
                break
            word = rng.choice(_WORDS).capitalize()
            pieces.append(word if not pieces or pieces[-1] == "\n\n" else " " + word)
        else:
            pieces.append(" " + rng.choice(_WORDS))
            if words_left > 2 and rng.random() < _COMMA_ODDS and len(pieces) < count:
                pieces.append(",")
        words_left -= 1
    return pieces[:count]


def schema_instance(schema: Mapping[str, object], rng: random.Random, depth: int = 0) -> object:
    """A value that validates against the common subset of JSON Schema (type, properties, items, enum)."""
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return rng.choice(enum)
    alternative = _first_alternative(schema)
    if alternative is not None:
        return schema_instance(alternative, rng, depth)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return _typed_instance(kind, schema, rng, depth)


def _first_alternative(schema: Mapping[str, object]) -> Mapping[str, object] | None:
    """The first branch of ``anyOf``/``oneOf``/``allOf``, which is enough for the schemas clients send."""
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and isinstance(options[0], Mapping):
            return options[0]
    return None


def _typed_instance(kind: object, schema: Mapping[str, object], rng: random.Random, depth: int) -> object:
    """A value of JSON Schema type ``kind``; anything unknown is a string."""
    if kind == "object":
        return _object_instance(schema, rng, depth)
    if kind == "array":
        return _array_instance(schema, rng, depth)
    if kind == "integer":
        return rng.randint(0, 100)
    if kind == "number":
        return round(rng.uniform(0, 100), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 8)))


def _object_instance(schema: Mapping[str, object], rng: random.Random, depth: int) -> dict[str, object]:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or depth > 4:
        return {"answer": " ".join(rng.choice(_WORDS) for _ in range(6))}
    return {str(k): schema_instance(v, rng, depth + 1) for k, v in props.items() if isinstance(v, Mapping)}


def _array_instance(schema: Mapping[str, object], rng: random.Random, depth: int) -> list[object]:
    items = schema.get("items")
    low = schema.get("minItems", 1)
    count = max(int(low) if isinstance(low, int) else 1, rng.randint(1, 3))
    sub = items if isinstance(items, Mapping) else {"type": "string"}
    return [schema_instance(sub, rng, depth + 1) for _ in range(count)]


def _apply_stops(pieces: list[str], stops: Sequence[str]) -> tuple[list[str], str | None]:
    text = "".join(pieces)
    best = -1
    matched: str | None = None
    for stop in stops:
        if not stop:
            continue
        at = text.find(stop)
        if at >= 0 and (best < 0 or at < best):
            best, matched = at, stop
    if matched is None:
        return pieces, None
    kept: list[str] = []
    length = 0
    for piece in pieces:
        if length + len(piece) > best:
            if best > length:
                kept.append(piece[: best - length])
            break
        kept.append(piece)
        length += len(piece)
    return kept, matched


def plan_output(
    *,
    seed: int,
    limit: int,
    ignore_eos: bool = False,
    min_tokens: int = 0,
    stop: Sequence[str] = (),
    json_schema: Mapping[str, object] | None = None,
    json_mode: bool = False,
) -> OutputPlan:
    """Decide the full output of one request; ``limit`` is max_tokens or what the context still holds."""
    rng = random.Random(seed)
    limit = max(1, limit)
    if json_mode or json_schema is not None:
        value = schema_instance(json_schema or {"type": "object"}, rng)
        pieces = split_pieces(orjson.dumps(value).decode())
        if len(pieces) > limit:
            return OutputPlan(pieces[:limit], "length")
        return OutputPlan(pieces, "stop")
    wanted = limit if ignore_eos else min(limit, max(natural_length(rng), min_tokens))
    pieces = corpus_pieces(rng.getrandbits(32), wanted)
    finish = "length" if wanted >= limit else "stop"
    if stop:
        cut, matched = _apply_stops(pieces, stop)
        if matched is not None and len(cut) >= min_tokens:
            return OutputPlan(cut if cut else [""], "stop", matched)
    return OutputPlan(pieces, finish)
