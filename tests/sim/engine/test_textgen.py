"""Output text: deterministic, readable, of the planned length, honouring stop strings and JSON modes."""

from __future__ import annotations

import random

import orjson

from infleet.sim.engine.model.textgen import plan_output
from infleet.sim.engine.model.tokenizer import VOCAB_SIZE, count_tokens, encode, render_chat, split_pieces


def test_same_seed_same_text_and_requested_length() -> None:
    a = plan_output(seed=11, limit=40, ignore_eos=True)
    b = plan_output(seed=11, limit=40, ignore_eos=True)
    assert a == b
    assert len(a.pieces) == 40
    assert a.finish_reason == "length"
    assert plan_output(seed=12, limit=40, ignore_eos=True).pieces != a.pieces


def test_text_reads_as_words() -> None:
    text = "".join(plan_output(seed=3, limit=200, ignore_eos=True).pieces)
    words = text.replace(".", " ").replace(",", " ").split()
    assert len(words) > 100
    assert all(w.isalpha() for w in words)
    assert text[0].isupper()


def test_unbounded_requests_end_at_a_sampled_length() -> None:
    lengths = {len(plan_output(seed=s, limit=100_000).pieces) for s in range(20)}
    assert len(lengths) > 10
    assert max(lengths) < 100_000
    assert all(plan_output(seed=s, limit=100_000).finish_reason == "stop" for s in range(5))


def test_stop_string_truncates_before_the_match() -> None:
    full = "".join(plan_output(seed=5, limit=300, ignore_eos=True).pieces)
    word = full.split()[10]
    plan = plan_output(seed=5, limit=300, ignore_eos=True, stop=[" " + word])
    text = "".join(plan.pieces)
    assert plan.finish_reason == "stop"
    assert plan.stop_reason == " " + word
    assert full.startswith(text)
    assert (" " + word) not in text


def test_json_modes_produce_valid_json() -> None:
    schema = {
        "type": "object",
        "properties": {
            "severity": {"enum": ["low", "high"]},
            "count": {"type": "integer"},
            "causes": {"type": "array", "items": {"type": "string"}},
        },
    }
    plan = plan_output(seed=1, limit=500, json_schema=schema)
    value = orjson.loads("".join(plan.pieces))
    assert value["severity"] in ("low", "high")
    assert isinstance(value["count"], int)
    assert isinstance(value["causes"], list)
    assert isinstance(orjson.loads("".join(plan_output(seed=2, limit=500, json_mode=True).pieces)), dict)


def test_tokenizer_round_trips_and_counts_near_bpe() -> None:
    text = "The gateway routes each request to a replica in another region."
    assert "".join(split_pieces(text)) == text
    assert 11 <= count_tokens(text) <= 16
    assert encode(text) == encode(text)
    system = [{"role": "system", "content": "You are terse."}]
    a = encode(render_chat([*system, {"role": "user", "content": "one"}]))
    b = encode(render_chat([*system, {"role": "user", "content": "two"}]))
    assert a[:8] == b[:8]


def test_encoding_by_cached_words_matches_one_pass_over_the_text() -> None:
    rng = random.Random(7)
    alphabet = ["a", "Zebra", "incidents", "42", "12345", "!", "<|im_end|>", " ", "  ", "\n", "\t", " \n "]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert encode(text) == [hash(piece) % VOCAB_SIZE for piece in split_pieces(text)], repr(text)
        assert encode(text) == encode(text)
