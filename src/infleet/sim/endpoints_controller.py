"""The simulated endpoints controller: one Endpoints object per Service with a selector.

Ready pods go to ``addresses``, others (running, not ready) to ``notReadyAddresses``. A port is the
Service's ``targetPort`` (a number, or a container port name); an engine pod whose engine had to listen
elsewhere publishes its real port in the ``sim.infleet.io/engine-port`` annotation, so it gets a subset
of its own. Subsets are sorted, so an unchanged set of pods writes nothing.
"""

from __future__ import annotations

from typing import Any

from infleet.api.kubernetes import ENDPOINTS
from infleet.api.labels import ENGINE_PORT_ANNOTATION
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.reconciler import Request, Result
from infleet.sim.workload_pods import is_ready, is_terminal


def selects(selector: dict[str, str], pod: dict[str, Any]) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def target_port(service_port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) or str(target).isdigit():
        return int(str(target))
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


def endpoint_subsets(service: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Endpoints ``subsets`` for ``service`` over ``pods``."""
    selector = (service.get("spec") or {}).get("selector") or {}
    groups: dict[tuple[tuple[str, int, str], ...], dict[str, list[dict[str, Any]]]] = {}
    for pod in pods:
        status = pod.get("status") or {}
        if not selects(selector, pod) or is_terminal(pod) or not status.get("podIP"):
            continue
        if pod["metadata"].get("deletionTimestamp"):
            continue
        engine_port = (pod["metadata"].get("annotations") or {}).get(ENGINE_PORT_ANNOTATION)
        ports = []
        for service_port in (service.get("spec") or {}).get("ports") or []:
            port = int(engine_port) if engine_port else target_port(service_port, pod)
            if port is not None:
                ports.append(
                    (str(service_port.get("name", "")), port, str(service_port.get("protocol", "TCP")))
                )
        address = {
            "ip": status["podIP"],
            "nodeName": (pod.get("spec") or {}).get("nodeName"),
            "targetRef": {
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "namespace": pod["metadata"]["namespace"],
                "uid": pod["metadata"]["uid"],
            },
        }
        group = groups.setdefault(tuple(ports), {"addresses": [], "notReadyAddresses": []})
        group["addresses" if is_ready(pod) else "notReadyAddresses"].append(address)
    subsets = []
    for ports_key, group in sorted(groups.items()):
        subset: dict[str, Any] = {}
        for field in ("addresses", "notReadyAddresses"):
            if group[field]:
                subset[field] = sorted(group[field], key=lambda a: (a["ip"], a["targetRef"]["name"]))
        subset["ports"] = [
            {**({"name": name} if name else {}), "port": port, "protocol": protocol}
            for name, port, protocol in ports_key
        ]
        subsets.append(subset)
    return subsets


class EndpointsController:
    def __init__(
        self, client: ClusterClient, services: Informer, pods: Informer, endpoints: Informer
    ) -> None:
        self.client, self.services, self.pods, self.endpoints = client, services, pods, endpoints

    def services_of_pod(self, event: InformerEvent) -> list[Request]:
        namespace = event.obj["metadata"]["namespace"]
        return [
            Request(event.cluster, namespace, service["metadata"]["name"])
            for service in self.services.store.list(namespace)
            if (service.get("spec") or {}).get("selector")
            and (
                selects(service["spec"]["selector"], event.obj)
                or (event.old is not None and selects(service["spec"]["selector"], event.old))
            )
        ]

    async def reconcile(self, request: Request) -> Result:
        service = self.services.store.get(request.name, request.namespace)
        if service is None or not (service.get("spec") or {}).get("selector"):
            return Result()  # Endpoints of a deleted Service go with it (owner reference)
        subsets = endpoint_subsets(service, self.pods.store.list(request.namespace))
        current = self.endpoints.store.get(request.name, request.namespace)
        if current is not None and (current.get("subsets") or []) == subsets:
            return Result()
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": request.name,
                "namespace": request.namespace,
                "labels": dict(service["metadata"].get("labels") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": request.name,
                        "uid": service["metadata"]["uid"],
                    }
                ],
            },
            "subsets": subsets,
        }
        try:
            if current is None:
                await self.client.create(ENDPOINTS, body)
            else:
                await self.client.patch(ENDPOINTS, request.name, {"subsets": subsets}, request.namespace)
        except KubeAPIError as error:
            if not error.conflict:
                raise
            await self.client.patch(ENDPOINTS, request.name, {"subsets": subsets}, request.namespace)
        return Result()
