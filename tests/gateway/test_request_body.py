"""Request bodies: parsed once, the model spliced in place, prompts hashed from raw bytes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infleet.gateway.request_body import BadRequestError, _sniff, parse_body, usage_from_sse_tail


def test_splices_model_without_touching_other_bytes() -> None:
    raw = b'{"messages":[{"role":"user","content":"caf\\u00e9"}],"model":"a","n":1}'
    body = parse_body(raw)
    parts = body.with_model("b")
    assert b"".join(parts) == raw.replace(b'"a"', b'"b"')
    assert len(parts) == 3  # spliced, not rebuilt
    assert body.with_model("a") == [raw]


def test_same_leading_prompt_gives_same_prefix_hashes() -> None:
    system = "You are a careful assistant. " * 100
    one = parse_body(
        orjson.dumps(
            {
                "model": "m",
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": "first"}],
            }
        )
    )
    two = parse_body(
        orjson.dumps(
            {
                "model": "m",
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": "second"}],
            }
        )
    )
    a, b = one.prefix("m"), two.prefix("m")
    assert len(a) >= 5
    assert a[:5] == b[:5]
    assert a != b or len(a) == len(b)
    assert one.prefix("other-model")[0] != a[0]


@pytest.mark.parametrize("raw", [b"[]", b"{}", b'{"model": 3}', b"nope"])
def test_rejects_bodies_without_a_model(raw: bytes) -> None:
    with pytest.raises(BadRequestError):
        parse_body(raw)


def test_usage_from_stream_tail() -> None:
    tail = b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\ndata: [DONE]\n\n'
    assert usage_from_sse_tail(tail) == {"prompt_tokens": 5, "completion_tokens": 2}
    assert usage_from_sse_tail(b"data: [DONE]\n\n") is None


BIG = "x" * 100_000


def test_large_bodies_are_spliced_wherever_the_model_key_sits() -> None:
    for payload in (
        {"messages": [{"role": "user", "content": BIG}], "stream": True, "model": "llama"},
        {"model": "llama", "messages": [{"role": "user", "content": BIG}]},
        {"messages": [{"role": "user", "content": BIG}], "model": "llama", "tools": [{"x": BIG}]},
    ):
        raw = orjson.dumps(payload)
        body = parse_body(raw)
        parts = body.with_model("m")
        assert len(parts) == 3
        assert orjson.loads(b"".join(parts)) == {**payload, "model": "m"}


def test_model_named_in_a_string_or_as_a_role_is_left_alone() -> None:
    payload = {"messages": [{"role": "model", "content": 'say "model": "llama"'}], "model": "llama"}
    body = parse_body(orjson.dumps(payload))
    assert orjson.loads(b"".join(body.with_model("m"))) == {**payload, "model": "m"}


def test_large_bodies_with_ambiguous_keys_are_parsed() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"model": "x", "stream": True}}}]
    raw = orjson.dumps({"model": "llama", "tools": tools, "messages": [{"role": "user", "content": BIG}]})
    body = parse_body(raw)
    assert (body.model, body.stream) == ("llama", False)
    sent = orjson.loads(b"".join(body.with_model("m")))
    assert sent["model"] == "m"
    assert sent["tools"] == tools
    with pytest.raises(BadRequestError):
        parse_body(orjson.dumps([{"model": "llama", "content": BIG}]))


PAD = b', "pad": "' + b"x" * 40_000 + b'"}'


def padded(raw: bytes) -> bytes:
    """A body large enough to be scanned rather than parsed."""
    return raw[: raw.rindex(b"}")] + PAD


def test_scan_finds_top_level_model_and_stream_past_nested_lookalikes() -> None:
    tools = [{"function": {"parameters": {"model": "x", "stream": True, "q": 'a \\" "model": "y"'}}}]
    payload = {"tools": tools, "messages": [{"role": "model", "content": 'x\\"\\\\' + BIG}], "model": 'll"am'}
    for stream in (True, False, None):
        raw = orjson.dumps({**payload, "stream": stream})
        assert _sniff(raw) is not None  # the scan, not the parse, read this body
        body = parse_body(raw)
        assert (body.model, body.stream) == ('ll"am', stream is True)
        assert orjson.loads(b"".join(body.with_model("m"))) == {**payload, "stream": stream, "model": "m"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "a", "model": "b"}',  # the upstream would read the last one
        b'{"model": "a", "mod\\u0065l": "b"}',  # the same key, escaped
        b'{"messages": [{"model": "a"}], "model": "b", "x": {"model": "c"}, "model": "d"}',
    ],
)
def test_repeated_model_keys_are_routed_on_the_value_the_upstream_reads(raw: bytes) -> None:
    raw = padded(raw)
    body = parse_body(raw)
    assert body.model == orjson.loads(raw)["model"]
    sent = orjson.loads(b"".join(body.with_model("m")))
    assert sent["model"] == "m"


@pytest.mark.parametrize("raw", [b'{"model": "a"]', b'{"model": "a", "x": [}', b'{"model": "a"} x'])
def test_malformed_bodies_are_rejected(raw: bytes) -> None:
    with pytest.raises(BadRequestError):
        parse_body(raw.replace(b'"a"', b'"a", "pad": "' + b"x" * 40_000 + b'"'))


def test_bodies_of_many_short_strings_are_parsed_not_scanned() -> None:
    raw = orjson.dumps({"model": "a", "messages": [{"role": "user", "content": "hi"}] * 3000})
    assert len(raw) > 32768
    assert _sniff(raw) is None
    assert parse_body(raw).model == "a"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(alphabet='ab"\\\\{}[]:, \u00e9', max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["model", "stream", "x", 'q"', "m\\\\"]), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["model", "stream", "messages", "tools", 'k"']), _json, max_size=4
    ),
    pad_first=st.booleans(),
    model=st.none() | st.text(alphabet='ab"\\\u00e9', max_size=5),
)
def test_the_scan_agrees_with_a_full_parse(
    fields: dict[str, Any], pad_first: bool, model: str | None
) -> None:
    if model is not None:
        fields["model"] = model
    pad = {"pad": "x" * 40_000}
    raw = orjson.dumps({**pad, **fields} if pad_first else {**fields, **pad})
    try:
        expected = orjson.loads(raw)
    except orjson.JSONDecodeError:  # pragma: no cover - orjson writes valid JSON
        return
    model = expected.get("model")
    if not isinstance(model, str) or not model:
        with pytest.raises(BadRequestError):
            parse_body(raw)
        return
    body = parse_body(raw)
    assert (body.model, body.stream) == (model, expected.get("stream") is True)
    assert orjson.loads(b"".join(body.with_model("m"))) == {**expected, "model": "m"}
