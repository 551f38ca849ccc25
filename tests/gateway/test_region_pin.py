"""Region pins by key: a key's allowedRegions intersected with the model's; the request's region (header,
else the key's home region) is only a preference; with every allowed replica down the answer is 503 with
Retry-After and the reason, never a silent move to a region the key may not use."""

from __future__ import annotations

from typing import Any

from infleet.gateway.config import hash_key
from tests.gateway.conftest import FakeEngine, build_gateway, call, chat

EU1, EU2, US = "http://eu1:8000", "http://eu2:8000", "http://us:8000"


def config(**model: Any) -> dict[str, Any]:
    backends = [
        {"url": EU1, "name": "eu-1", "model": "m", "region": "westeurope"},
        {"url": EU2, "name": "eu-2", "model": "m", "region": "northeurope"},
        {"url": US, "name": "us-1", "model": "m", "region": "eastus"},
    ]
    return {
        "region": "eastus",
        "models": [{"name": "qwen2-7b", "backends": backends, **model}],
        "keys": [
            {"name": "eu", "hash": f"sha256:{hash_key('sk-eu')}", "allowed_regions": ["westeurope"]},
            {"name": "home", "hash": f"sha256:{hash_key('sk-home')}", "home_region": "northeurope"},
            {"name": "any", "hash": f"sha256:{hash_key('sk-any')}"},
        ],
        "health": {"enabled": False},
        "scrape": {"enabled": False},
    }


def engines() -> dict[str, FakeEngine]:
    return {
        EU1: FakeEngine("m", name="eu-1"),
        EU2: FakeEngine("m", name="eu-2"),
        US: FakeEngine("m", name="us-1"),
    }


def key(plain: str, **extra: str) -> dict[str, str]:
    return {"authorization": f"Bearer {plain}", **extra}


async def test_a_pinned_key_is_served_only_in_its_regions_whatever_it_prefers() -> None:
    app, _ = build_gateway(config(), engines())
    for _ in range(4):
        reply = await call(
            app,
            "/v1/chat/completions",
            chat("qwen2-7b"),
            headers=key("sk-eu", **{"x-infleet-region": "eastus"}),
        )
        assert reply.status == 200
        assert reply.headers[b"x-infleet-backend"] == b"eu-1"


async def test_the_home_region_is_a_preference_and_the_header_wins_over_it() -> None:
    app, _ = build_gateway(config(), engines())
    home = await call(app, "/v1/chat/completions", chat("qwen2-7b"), headers=key("sk-home"))
    assert home.headers[b"x-infleet-backend"] == b"eu-2"  # not the gateway's own eastus
    header = await call(
        app,
        "/v1/chat/completions",
        chat("qwen2-7b"),
        headers=key("sk-home", **{"x-infleet-region": "eastus"}),
    )
    assert header.headers[b"x-infleet-backend"] == b"us-1"


async def test_with_every_allowed_replica_down_the_pin_holds_with_503_retry_after_and_the_reason() -> None:
    app, _ = build_gateway(config(fallbacks=[]), engines())
    for replica in app.table.replicas():
        if replica.region == "westeurope":
            replica.healthy = False
    reply = await call(app, "/v1/chat/completions", chat("qwen2-7b"), headers=key("sk-eu"))
    assert reply.status == 503
    assert int(reply.headers[b"retry-after"]) >= 1
    message = reply.json()["error"]["message"]
    assert message.startswith("no replica of qwen2-7b in the regions this key may use (westeurope)")
    assert message.endswith("; 2 replicas elsewhere are not allowed")
    # An unpinned key is still served by the others.
    other = await call(app, "/v1/chat/completions", chat("qwen2-7b"), headers=key("sk-any"))
    assert other.status == 200


async def test_the_key_pin_intersects_the_models_and_holds_across_fallbacks() -> None:
    cfg = config(allowed_regions=["northeurope", "eastus"])
    cfg["models"].append({"name": "backup", "backends": [{"url": US, "model": "m", "region": "eastus"}]})
    cfg["models"][0]["fallbacks"] = ["backup"]
    app, _ = build_gateway(cfg, engines())
    reply = await call(app, "/v1/chat/completions", chat("qwen2-7b"), headers=key("sk-eu"))
    assert (
        reply.status == 503
    )  # westeurope is the key's, not the model's; eastus is the model's, not the key's
    assert "(none: the key's and the model's regions do not overlap)" in reply.json()["error"]["message"]
    allowed = await call(app, "/v1/chat/completions", chat("qwen2-7b"), headers=key("sk-any"))
    assert allowed.status == 200
    assert allowed.headers[b"x-infleet-backend"] in (b"eu-2", b"us-1")
