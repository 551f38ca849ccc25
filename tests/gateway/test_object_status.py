"""The status the gateway writes on its API objects: Accepted / ResolvedRefs / Ready with
observedGeneration and messages naming the field and the fix, what a ModelRoute resolved to, live as
the objects change; one writer per cluster (the Lease holder); `kubectl get modelroutes` shows it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import MODEL_DEPLOYMENT
from infleet.api.gateway_aitoolchain_io.v1alpha1.gateway_key import GATEWAY_KEY
from infleet.api.gateway_aitoolchain_io.v1alpha1.model_route import MODEL_ROUTE
from infleet.api.kubernetes import LEASE, NAMESPACE, SECRET
from infleet.gateway.app import GatewayApp
from infleet.gateway.config import parse_config
from infleet.gateway.fleet_discovery import FleetDiscovery
from infleet.gateway.status_writer import LEASE_NAME, LEASE_NAMESPACE
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition
from infleet.kube.leader_election import LeaderElectionSettings
from tests.apiserver_harness import Kubectl, kubectl_binaries
from tests.fleet.hub.conftest import running_hub, until
from tests.gateway.test_api_objects import obj, secret

FAST_LEASE = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.2}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ClusterClient]:
    async with running_hub(tmp_path, lambda manager, client: None) as client:
        await client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm"}})
        yield client


def gateway(api: ClusterClient, identity: str, file: dict[str, Any] | None = None) -> GatewayApp:
    config = parse_config(
        {"health": {"enabled": False}, "scrape": {"enabled": False}, "access_log": {"enabled": False}}
        | (file or {}),
        discovery=True,
    )
    app = GatewayApp(config, discovery=FleetDiscovery(api, settle=0.01))
    assert app.status is not None
    app.status.lease = LeaderElectionSettings(LEASE_NAME, identity, namespace=LEASE_NAMESPACE, **FAST_LEASE)
    return app


async def condition(api: ClusterClient, kind: Any, name: str, type_: str) -> dict[str, Any]:
    found = await api.get(kind, name, "llm")
    return get_condition((found.get("status") or {}).get("conditions"), type_) or {}


async def wait_condition(
    api: ClusterClient, kind: Any, name: str, type_: str, status: str, reason: str
) -> None:
    async def reached() -> bool:
        got = await condition(api, kind, name, type_)
        return got.get("status") == status and got.get("reason") == reason

    await until(reached, within=20, what=f"{kind.kind} {name}: {type_}={status} ({reason})")


async def test_routes_and_keys_report_what_the_gateway_made_of_them(
    api: ClusterClient, tmp_path: Path
) -> None:
    deployment = await api.create(MODEL_DEPLOYMENT, obj(MODEL_DEPLOYMENT, "qwen", {"model": "qwen2-7b"}))
    deployment["status"] = {"replicaStatus": [{"name": "qwen-0", "ready": True, "endpoint": "127.0.0.1:9"}]}
    await api.replace(MODEL_DEPLOYMENT, deployment, subresource="status")
    provider = {"name": "eu", "url": "https://api.example.com/v1", "region": "westeurope"}
    await api.create(
        MODEL_ROUTE,
        obj(
            MODEL_ROUTE, "chat", {"model": "chat", "deployments": [{"name": "qwen"}], "providers": [provider]}
        ),
    )
    await api.create(
        MODEL_ROUTE, obj(MODEL_ROUTE, "lost", {"model": "lost", "deployments": [{"name": "nope"}]})
    )
    await api.create(
        MODEL_ROUTE, obj(MODEL_ROUTE, "twin", {"model": "chat", "deployments": [{"name": "qwen"}]})
    )
    await api.create(
        MODEL_ROUTE, obj(MODEL_ROUTE, "filed", {"model": "filed", "deployments": [{"name": "qwen"}]})
    )
    await api.create(GATEWAY_KEY, obj(GATEWAY_KEY, "team", {"secretRef": {"name": "keys", "key": "team"}}))
    file = {"models": [{"name": "filed", "backends": [{"url": "http://127.0.0.1:9"}]}]}
    app = gateway(api, "gateway-a", file)
    await app.startup()
    try:
        await wait_condition(api, MODEL_ROUTE, "chat", "Ready", "True", "Ready")
        chat = await api.get(MODEL_ROUTE, "chat", "llm")
        status = chat["status"]
        assert (status["backends"], status["deployments"], status["regions"]) == (2, 1, ["westeurope"])
        for type_ in ("Accepted", "ResolvedRefs", "Ready"):
            got = get_condition(status["conditions"], type_)
            assert got is not None
            assert got["status"] == "True"
            assert got["observedGeneration"] == chat["metadata"]["generation"]

        await wait_condition(api, MODEL_ROUTE, "lost", "ResolvedRefs", "False", "DeploymentNotFound")
        lost = await condition(api, MODEL_ROUTE, "lost", "ResolvedRefs")
        assert (
            "spec.deployments[0]: ModelDeployment llm/nope does not exist; create it or fix the name"
            in (lost["message"])
        )
        assert (await condition(api, MODEL_ROUTE, "lost", "Ready"))["reason"] == "NoReadyBackends"

        await wait_condition(api, MODEL_ROUTE, "twin", "Accepted", "False", "ModelNameTaken")
        twin = await condition(api, MODEL_ROUTE, "twin", "Accepted")
        assert "routed by ModelRoute llm/chat already" in twin["message"]
        await wait_condition(api, MODEL_ROUTE, "filed", "Accepted", "False", "ModelNameTakenByConfigFile")

        await wait_condition(api, GATEWAY_KEY, "team", "ResolvedRefs", "False", "SecretNotFound")
        missing = await condition(api, GATEWAY_KEY, "team", "Ready")
        assert missing["status"] == "False"
        assert "spec.secretRef: Secret llm/keys does not exist" in missing["message"]

        # Fixing the objects fixes their status, live.
        await api.create(SECRET, secret("keys", team="sk-team"))
        await wait_condition(api, GATEWAY_KEY, "team", "Ready", "True", "Ready")
        await api.create(MODEL_DEPLOYMENT, obj(MODEL_DEPLOYMENT, "nope", {"model": "qwen2-7b"}))
        await wait_condition(api, MODEL_ROUTE, "lost", "ResolvedRefs", "True", "ResolvedRefs")
        spec_change = await api.get(MODEL_ROUTE, "lost", "llm")
        spec_change["spec"]["profile"] = "no-such-profile"
        changed = await api.replace(MODEL_ROUTE, spec_change)
        await wait_condition(api, MODEL_ROUTE, "lost", "ResolvedRefs", "False", "ProfileNotFound")
        refs = await condition(api, MODEL_ROUTE, "lost", "ResolvedRefs")
        assert refs["observedGeneration"] == changed["metadata"]["generation"]

        # Someone else overwrites the status: the gateway puts it back.
        chat = await api.get(MODEL_ROUTE, "chat", "llm")
        chat["status"] = {"backends": 99}
        await api.replace(MODEL_ROUTE, chat, subresource="status")

        async def restored() -> bool:
            return (await api.get(MODEL_ROUTE, "chat", "llm"))["status"].get("backends") == 2

        await until(restored, within=20, what="the gateway restores the overwritten status")

        binaries = kubectl_binaries()
        if binaries:
            kubectl = Kubectl(binaries[0], tmp_path / "kubeconfig", tmp_path / "kubectl-cache")
            table = await asyncio.to_thread(kubectl.run, "get", "modelroutes", "-n", "llm")
            header, *rows = table.stdout.splitlines()
            assert header.split() == ["NAME", "MODEL", "READY", "BACKENDS", "REGIONS", "AGE"]
            assert rows[0].split()[:5] == ["chat", "chat", "True", "2", '["westeurope"]']
            keys = await asyncio.to_thread(kubectl.run, "get", "gwkey", "-n", "llm", "-o", "wide")
            assert "Ready" in keys.stdout
    finally:
        await app.shutdown()


async def test_only_the_lease_holder_writes_and_another_gateway_takes_over(api: ClusterClient) -> None:
    """Two gateways read the same cluster; only the holder of the Lease writes. The other gateway's file
    takes the route's name, so it would report the route as not accepted: while it does not hold the
    lease that verdict never reaches the object; once the first gateway stops, it does."""
    await api.create(MODEL_ROUTE, obj(MODEL_ROUTE, "chat", {"model": "chat", "deployments": [{"name": "q"}]}))
    first = gateway(api, "gateway-a")
    await first.startup()
    first_running = True
    try:
        await wait_condition(api, MODEL_ROUTE, "chat", "Accepted", "True", "Accepted")
        file = {"models": [{"name": "chat", "backends": [{"url": "http://127.0.0.1:9"}]}]}
        second = gateway(api, "gateway-b", file)
        await second.startup()
        try:
            await asyncio.sleep(1.0)  # several of its retry periods
            assert second.status is not None
            assert not second.status.leading
            lease = await api.get(LEASE, LEASE_NAME, LEASE_NAMESPACE)
            assert lease["spec"]["holderIdentity"] == "gateway-a"
            assert (await condition(api, MODEL_ROUTE, "chat", "Accepted"))["status"] == "True"
            await first.shutdown()  # releases the lease
            first_running = False
            await wait_condition(api, MODEL_ROUTE, "chat", "Accepted", "False", "ModelNameTakenByConfigFile")
            assert second.status.leading
        finally:
            await second.shutdown()
    finally:
        if first_running:
            await first.shutdown()


async def test_a_cluster_without_routes_or_keys_gets_no_lease(api: ClusterClient) -> None:
    app = gateway(api, "gateway-a")
    await app.startup()
    try:
        await asyncio.sleep(0.5)
        assert app.status is not None
        assert not app.status.leading
        assert not (await api.list(LEASE, LEASE_NAMESPACE)).items
        key = {"secretRef": {"name": "keys", "key": "team"}}
        await api.create(GATEWAY_KEY, obj(GATEWAY_KEY, "team", key))
        await wait_condition(api, GATEWAY_KEY, "team", "Ready", "False", "SecretNotFound")
        assert app.status.leading
    finally:
        await app.shutdown()
