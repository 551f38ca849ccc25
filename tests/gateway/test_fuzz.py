"""Fuzzing the HTTP surface with hypothesis: whatever the path, method, headers or body, the gateway
answers with a well-formed status and never a 500."""

from __future__ import annotations

import asyncio

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.conftest import FakeEngine, build_gateway, call

PATHS = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/models",
    "/health/readiness",
    "/metrics",
    "/admin/reload",
    "/nope",
    "/chat/completions",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(orjson.dumps),
    st.fixed_dictionaries(
        {
            "model": st.sampled_from(["llama", "m", "", "x"]) | st.integers(-5, 5),
            "stream": st.booleans() | st.none(),
        },
        optional={"messages": json_values, "prompt": json_values, "max_tokens": st.integers(-5, 5)},
    ).map(orjson.dumps),
)
headers = st.dictionaries(
    st.sampled_from(["authorization", "x-infleet-priority", "x-request-id", "x-infleet-region", "x-api-key"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(PATHS),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    body=bodies,
    hdrs=headers,
)
def test_no_input_makes_the_gateway_fail(path: str, method: str, body: bytes, hdrs: dict[str, str]) -> None:
    app, _ = build_gateway(
        {
            "models": [{"name": "llama", "backends": [{"url": "http://a:1", "model": "m"}]}],
            "health": {"enabled": False},
            "scrape": {"enabled": False},
        },
        {"http://a:1": FakeEngine("m")},
    )
    reply = asyncio.run(call(app, path, body, method=method, headers=hdrs))
    assert 200 <= reply.status < 600
    assert reply.status != 500
    if reply.status >= 400 and path != "/metrics":
        assert "error" in orjson.loads(reply.body) or reply.status == 503
