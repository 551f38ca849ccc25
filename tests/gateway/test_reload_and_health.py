"""Config reload keeps live replica state and in-flight requests; active health checks take a dead
replica out within a second and bring it back when it recovers."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from infleet.gateway.app import GatewayApp
from infleet.gateway.config import load_config, parse_config
from infleet.gateway.health_check import HealthChecker
from infleet.gateway.http_pool import HttpPool
from tests.gateway.conftest import FakeEngine, build_gateway, call, chat, free_port

CONFIG = """
access_log: {{enabled: false}}
health: {{enabled: false}}
scrape: {{enabled: false}}
models:
  - name: {name}
    backends: [{{url: "http://a:8000", model: m}}]
"""


async def test_reload_swaps_models_and_keeps_replica_state(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG.format(name="llama"))
    from infleet.gateway.asgi_transport import AsgiTransport

    app = GatewayApp(
        load_config(path),
        transport=AsgiTransport({"http://a:8000": FakeEngine("m")}),
        config_path=path,
        background=False,
    )
    replica = app.table.replicas()[0]
    replica.outstanding = 3  # as if requests were in flight
    assert (await call(app, "/v1/chat/completions", chat("llama"))).status == 200
    path.write_text(CONFIG.format(name="mistral"))
    os.utime(path, (1, 1))
    assert app.reloader is not None
    assert app.reloader.reload()
    assert (await call(app, "/v1/chat/completions", chat("llama"))).status == 404
    assert (await call(app, "/v1/chat/completions", chat("mistral"))).status == 200
    assert app.table.replicas()[0].outstanding == 3
    assert app.table.version == 2


async def test_invalid_reload_keeps_the_running_config(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG.format(name="llama"))
    app = GatewayApp(load_config(path), config_path=path, background=False)
    path.write_text("models: []\n")
    assert app.reloader is not None
    assert not app.reloader.reload()
    assert app.table.lookup("llama") is not None
    await app.shutdown()


async def test_reloader_notices_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG.format(name="llama"))
    app = GatewayApp(load_config(path), config_path=path, background=True)
    assert app.reloader is not None
    app.reloader._interval = 0.05
    await app.startup()
    try:
        path.write_text(CONFIG.format(name="mistral"))
        os.utime(path, (2, 2))
        for _ in range(100):
            if app.table.lookup("mistral") is not None:
                break
            await asyncio.sleep(0.02)
        assert app.table.lookup("mistral") is not None
    finally:
        await app.shutdown()


async def test_health_checks_eject_within_a_second_and_readmit(servers: Any) -> None:
    engine = FakeEngine("m")
    server = await servers(engine)
    app, _ = build_gateway(
        {
            "models": [
                {
                    "name": "llama",
                    "backends": [
                        {"url": server.url, "model": "m"},
                        {"url": f"http://127.0.0.1:{free_port()}", "model": "m"},
                    ],
                }
            ]
        },
        {},
    )
    checker = HealthChecker(HttpPool(), app.table.replicas, load_config_health())
    live, dead = app.table.replicas()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(checker.check(r) for r in (live, dead)))
    assert live.healthy
    assert not dead.healthy
    assert loop.time() - start < 1.0
    engine.fail_status = 503  # /health answers 503 once the engine is dead
    await checker.check(live)
    assert not live.healthy
    engine.fail_status = 0
    await checker.check(live)
    assert live.healthy


def load_config_health() -> Any:
    from infleet.gateway.config import HealthConfig

    return HealthConfig(interval=0.1, timeout=0.5)


async def test_discovered_models_join_the_files_and_the_file_wins_where_both_speak() -> None:
    from infleet.gateway.config import BackendConfig, ModelConfig

    engines = {"http://a:8000": FakeEngine("m"), "http://b:8000": FakeEngine("m")}
    app, _ = build_gateway(
        {"models": [{"name": "llama", "backends": [{"url": "http://a:8000", "model": "m"}]}]}, engines
    )
    found = [
        ModelConfig(name="qwen", backends=[BackendConfig(url="http://b:8000", model="m", cluster="eu")]),
        ModelConfig(name="llama", backends=[BackendConfig(url="http://b:8000", model="m")]),
    ]
    app.apply_discovered(found)
    assert (await call(app, "/v1/chat/completions", chat("qwen"))).status == 200
    llama = app.table.lookup("llama")
    assert llama is not None
    assert [str(r.origin) for r in llama.replicas] == ["http://a:8000"]  # the file's backend, not b
    app.apply_discovered([])
    assert (await call(app, "/v1/chat/completions", chat("qwen"))).status == 404
    assert (await call(app, "/v1/chat/completions", chat("llama"))).status == 200


async def test_a_replica_that_leaves_the_table_leaves_the_metrics() -> None:
    engines = {"http://a:8000": FakeEngine("m"), "http://b:8000": FakeEngine("m")}
    config = {
        "models": [{"name": "llama", "backends": [{"url": u, "model": "m", "name": u[7]} for u in engines]}],
        "health": {"enabled": False},
        "scrape": {"enabled": False},
    }
    app, _ = build_gateway(config, engines)

    async def backends_exported() -> set[str]:
        lines = (await call(app, "/metrics", method="GET")).body.decode().splitlines()
        return {x.split('"')[1] for x in lines if x.startswith("infleet_gateway_upstream_healthy{")}

    assert await backends_exported() == {"a", "b"}
    only_a = [{"name": "llama", "backends": [{"url": "http://a:8000", "model": "m", "name": "a"}]}]
    app.apply_config(parse_config({**config, "models": only_a}))
    # b is gone: no series keeps reporting its last health as if it were a replica still there.
    assert await backends_exported() == {"a"}

    # Also when b's health changed (which sets its series) and b left before any scrape.
    app, _ = build_gateway(config, engines)
    b = next(r for r in app.table.replicas() if r.name == "b")

    async def failing(replica: Any) -> bool:
        return False

    app.health.probe = failing  # type: ignore[method-assign]
    await app.health.check(b)
    app.apply_config(parse_config({**config, "models": only_a}))
    assert await backends_exported() == {"a"}
