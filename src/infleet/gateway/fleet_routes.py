"""Routes from the fleet: each ModelDeployment becomes a model under its served name (the name clients
send), with one backend per ready replica, labelled with its cluster, region, GPU SKU and price.

A hub copy lists its members in ``status.clusters`` (the fleet's status back-reporting); a member's own
copy lists its replicas in ``status.replicaStatus``, for a gateway that runs inside one cluster. Replicas
of a member the hub judges unhealthy are left out. A model with no ready replica names the deployments to
wake (scaled to zero, or starting), unless only unhealthy members hold it. Pure: ``FleetDiscovery``
feeds it the API's objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from infleet.api.aitoolchain_io.v1.model_deployment import ModelDeploymentSpec
from infleet.api.catalog import Catalog
from infleet.api.cluster_kubernetes_fleet_io.v1beta1.member_cluster import CONDITION_HEALTHY
from infleet.api.labels import CLOUD_LABEL, REGION_LABEL
from infleet.api.served_names import served_model_name
from infleet.gateway.config import BackendConfig, ModelConfig, WakeTarget
from infleet.kube.conditions import get_condition


@dataclass(frozen=True)
class MemberFacts:
    """What routing needs to know of a member cluster."""

    region: str = ""
    cloud: str = ""
    healthy: bool = True


def member_facts(members: Iterable[Mapping[str, Any]]) -> dict[str, MemberFacts]:
    facts = {}
    for member in members:
        metadata = member.get("metadata") or {}
        labels = metadata.get("labels") or {}
        health = get_condition((member.get("status") or {}).get("conditions"), CONDITION_HEALTHY)
        facts[str(metadata["name"])] = MemberFacts(
            region=str(labels.get(REGION_LABEL, "")),
            cloud=str(labels.get(CLOUD_LABEL, "")),
            # A member not judged yet (no condition, Unknown) keeps its replicas: only False drains.
            healthy=(health or {}).get("status") != "False",
        )
    return facts


@dataclass(frozen=True)
class DeployedModel:
    """One ModelDeployment as the gateway sees it: its served name and its ready replicas as backends."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    served: str
    backends: list[BackendConfig]
    wake: WakeTarget | None = None  # where to wake it when it has no ready replica


def deployed_models(
    deployments: Iterable[Mapping[str, Any]],
    members: Mapping[str, MemberFacts],
    catalog: Catalog,
    local_cluster: str = "",
) -> list[DeployedModel]:
    """Every valid ModelDeployment with its backends, by namespace and name."""
    found = []
    for deployment in sorted(deployments, key=_key):
        try:
            spec = ModelDeploymentSpec.model_validate(deployment.get("spec") or {})
        except ValidationError:
            continue  # its controller reports what is wrong; there is nothing to route to
        name = served_model_name(spec, catalog)
        namespace, object_name = _key(deployment)
        labels = (deployment.get("metadata") or {}).get("labels") or {}
        backends = _backends(deployment, name, members, local_cluster)
        wake = wake_target(deployment, members, local_cluster)
        found.append(DeployedModel(namespace, object_name, labels, name, backends, wake))
    return found


def served_models(found: Iterable[DeployedModel]) -> list[ModelConfig]:
    """One model per served name; deployments serving the same name (two namespaces) share it."""
    by_name: dict[str, ModelConfig] = {}
    for deployed in found:
        route = by_name.setdefault(deployed.served, ModelConfig(name=deployed.served))
        route.backends.extend(deployed.backends)
        if deployed.wake is not None:
            route.wake.append(deployed.wake)
    for route in by_name.values():
        if route.backends:
            route.wake.clear()  # a ready replica serves; nothing to wake
    return list(by_name.values())


def model_configs(
    deployments: Iterable[Mapping[str, Any]],
    members: Mapping[str, MemberFacts],
    catalog: Catalog,
    local_cluster: str = "",
) -> list[ModelConfig]:
    """Every ModelDeployment under its served name, as plain discovery routes it."""
    return served_models(deployed_models(deployments, members, catalog, local_cluster))


def wake_target(
    deployment: Mapping[str, Any], members: Mapping[str, MemberFacts], local_cluster: str = ""
) -> WakeTarget | None:
    """Where to wake a deployment: its copies in healthy members (a hub's copy lists them), or the copy
    itself. None when only unhealthy members hold it: waking cannot help, the fleet moves it instead."""
    namespace, name = _key(deployment)
    status = deployment.get("status") or {}
    if "clusters" not in status:
        if not members.get(local_cluster, MemberFacts()).healthy:
            return None
        return WakeTarget(namespace=namespace, name=name)
    placed = [str(entry.get("clusterName") or "") for entry in status.get("clusters") or []]
    healthy = [cluster for cluster in placed if members.get(cluster, MemberFacts()).healthy]
    if placed and not healthy:
        return None
    return WakeTarget(namespace=namespace, name=name, clusters=healthy)


def _key(deployment: Mapping[str, Any]) -> tuple[str, str]:
    metadata = deployment.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _backends(
    deployment: Mapping[str, Any], served: str, members: Mapping[str, MemberFacts], local_cluster: str
) -> list[BackendConfig]:
    status = deployment.get("status") or {}
    if "clusters" in status:
        return [
            backend
            for entry in status.get("clusters") or []
            for backend in _cluster_backends(
                entry, served, members.get(str(entry.get("clusterName")), MemberFacts())
            )
        ]
    # A member's own copy: its ready replicas, in this cluster.
    entry = {
        "clusterName": local_cluster,
        "servingReplicas": [
            r for r in status.get("replicaStatus") or [] if r.get("ready") and r.get("endpoint")
        ],
        "costPerReplicaHour": (status.get("sizing") or {}).get("costPerHour"),
    }
    return _cluster_backends(entry, served, members.get(local_cluster, MemberFacts()))


def _cluster_backends(entry: Mapping[str, Any], served: str, member: MemberFacts) -> list[BackendConfig]:
    if not member.healthy:
        return []  # the hub lost it: route elsewhere, even before its replicas fail
    cluster = str(entry.get("clusterName") or "")
    cost = entry.get("costPerReplicaHour")
    backends = []
    for replica in entry.get("servingReplicas") or []:
        endpoint = str(replica["endpoint"])
        url = endpoint if "://" in endpoint else f"http://{endpoint}"
        backends.append(
            BackendConfig(
                url=url,
                name=f"{cluster}/{replica.get('name')}" if cluster else str(replica.get("name")),
                model=served,
                region=member.region,
                cloud=member.cloud,
                cluster=cluster,
                gpu=str(replica.get("sku") or ""),
                cost=float(cost) if isinstance(cost, int | float) else 0.0,
            )
        )
    return backends
