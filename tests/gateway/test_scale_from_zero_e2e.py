"""Scale from zero end to end: the embedded API server with one simulated member cluster (nodes, kubelet,
simulated vLLM engines, the models controller) and the gateway discovering that cluster's own
ModelDeployments. A deployment idle past scaleToZeroAfterSeconds sleeps at zero; 55 concurrent requests
then arrive: 50 wait (the queue's size) while the gateway wakes it and are all answered, 5 get 503."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.labels import WAKE_ANNOTATION
from infleet.gateway.app import GatewayApp
from infleet.gateway.config import parse_config
from infleet.gateway.fleet_discovery import FleetDiscovery
from tests.gateway.conftest import Reply, call

end_to_end = pytest.importorskip("tests.models.test_end_to_end", reason="needs the simulated cluster")

DEPLOYMENT = {
    "apiVersion": "aitoolchain.io/v1",
    "kind": "ModelDeployment",
    "metadata": {"name": "chat", "namespace": "default"},
    "spec": {
        "model": "qwen2-7b",
        "servedModelName": "qwen2-7b",
        "resources": {"gpu": 2},
        "autoscaling": {
            "minReplicas": 1,
            "maxReplicas": 1,
            "scaleDownStabilizationSeconds": 1,
            "scaleToZeroAfterSeconds": 1,
        },
    },
}
QUEUE = 50


async def test_fifty_requests_to_a_model_scaled_to_zero_are_answered_after_the_wake(tmp_path: Path) -> None:
    engines = end_to_end.engine_pods.SimulatedEngineLauncher(
        fallback=end_to_end.mini_engine.MiniEngineLauncher()
    )
    async with end_to_end.running_cluster(tmp_path, end_to_end.POOLS, engines) as cluster:
        await cluster.client.create(MODEL_DEPLOYMENT, DEPLOYMENT)
        await cluster.kubectl("wait", "--for=condition=Ready", "modeldeployment/chat", "--timeout=60s")
        await cluster.kubectl(
            "wait", "--for=jsonpath={.status.state}=ScaledToZero", "modeldeployment/chat", "--timeout=30s"
        )
        config = parse_config(
            {
                "access_log": {"enabled": False},
                "scale_from_zero": {"queue_size": QUEUE, "timeout": 10, "retry_after": 3},
            },
            discovery=True,
        )
        app = GatewayApp(config, discovery=FleetDiscovery(cluster.client, local_cluster="member"))
        await app.startup()
        try:
            async with asyncio.timeout(10):
                while (route := app.table.lookup("qwen2-7b")) is None or not route.wake:  # noqa: ASYNC110 (discovery's)
                    await asyncio.sleep(0.01)
            assert route.replicas == []  # routable, with nothing to send to yet

            started = time.perf_counter()
            first: list[float] = []

            async def ask(i: int) -> Reply:
                body = {"model": "qwen2-7b", "prompt": f"incident {i}: summarize", "max_tokens": 16}
                reply = await call(app, "/v1/completions", body)
                if reply.status == 200 and not first:
                    first.append(time.perf_counter() - started)
                return reply

            async with asyncio.timeout(60):
                replies = await asyncio.gather(*(ask(i) for i in range(QUEUE + 5)))
            elapsed = time.perf_counter() - started
        finally:
            await app.shutdown()

        answered = [r for r in replies if r.status == 200]
        refused = [r for r in replies if r.status != 200]
        print(
            f"\nscale from zero, {QUEUE} held requests (time scale 0.002): first answer after "
            f"{first[0]:.2f} s, all after {elapsed:.2f} s"
        )
        assert len(answered) == QUEUE, [r.status for r in refused]
        assert all(r.json()["choices"][0]["text"] for r in answered)
        # The queue held 50: the 5 beyond it were told at once, with when to come back.
        assert [r.status for r in refused] == [503] * 5
        for reply in refused:
            assert reply.headers[b"retry-after"] == b"3"
            assert reply.json()["error"]["code"] == "wake_queue_full"
        # One wake for all of them: the annotation on the member's own copy, and one wake counted.
        obj = await cluster.md("chat")
        assert WAKE_ANNOTATION in obj["metadata"]["annotations"]
        assert obj["metadata"]["generation"] == 1  # the wake is an annotation: spec never moved
        metrics = app.metrics.render().decode()
        assert 'infleet_gateway_wakes_total{model="qwen2-7b"} 1.0' in metrics
        assert 'infleet_gateway_wake_duration_seconds_count{model="qwen2-7b"} 1.0' in metrics
