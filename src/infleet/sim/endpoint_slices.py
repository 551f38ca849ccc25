"""The simulated EndpointSlice controller: ``discovery.k8s.io/v1`` slices for each Service with a selector.

As kube-controller-manager's endpointslice controller does, it lists every selected pod that has an IP and
has not ended, with conditions ``serving`` (the pod's Ready condition), ``terminating`` (the pod has a
``deletionTimestamp``) and ``ready`` (serving and not terminating), so clients that read slices (kubectl
describe, kube-proxy-like routers) see pods draining. Pods are grouped by the ports they resolve to, one
slice per group; a Service that selects nothing keeps one empty slice. Slices are named
``<service>-<hash of its uid and ports>``, so an unchanged set of pods writes nothing and a change of
ports replaces a slice. The legacy Endpoints object is written by
:mod:`~infleet.sim.endpoints_controller`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from infleet.api.kubernetes import ENDPOINT_SLICE
from infleet.api.labels import ENDPOINT_SLICE_MANAGED_BY_LABEL as MANAGED_BY_LABEL
from infleet.api.labels import ENDPOINT_SLICE_SERVICE_NAME_LABEL as SERVICE_NAME_LABEL
from infleet.api.labels import ENGINE_PORT_ANNOTATION
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.informer import Informer
from infleet.kube.reconciler import Request, Result
from infleet.sim.endpoints_controller import selects, target_port
from infleet.sim.workload_pods import is_ready, is_terminal

MANAGED_BY = "endpointslice-controller.k8s.io"

PortsKey = tuple[tuple[str, int, str, str], ...]


def _pod_ports(service: dict[str, Any], pod: dict[str, Any]) -> PortsKey:
    """(name, port, protocol, appProtocol) of each Service port, resolved against ``pod``."""
    engine_port = (pod["metadata"].get("annotations") or {}).get(ENGINE_PORT_ANNOTATION)
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        port = int(engine_port) if engine_port else target_port(service_port, pod)
        if port is not None:
            name = str(service_port.get("name", ""))
            protocol = str(service_port.get("protocol", "TCP"))
            ports.append((name, port, protocol, str(service_port.get("appProtocol", ""))))
    return tuple(sorted(ports))


def _endpoint(pod: dict[str, Any]) -> dict[str, Any]:
    metadata = pod["metadata"]
    serving = is_ready(pod)
    terminating = bool(metadata.get("deletionTimestamp"))
    endpoint: dict[str, Any] = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {"ready": serving and not terminating, "serving": serving, "terminating": terminating},
        "targetRef": {
            "kind": "Pod",
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata["uid"],
        },
    }
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    return endpoint


def slice_name(service: dict[str, Any], ports: PortsKey) -> str:
    digest = hashlib.sha256(f"{service['metadata']['uid']}/{ports}".encode()).hexdigest()[:5]
    return f"{service['metadata']['name'][:57]}-{digest}"


def desired_slices(service: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The slices ``service`` should have over ``pods``: name to ``addressType``, ``endpoints``, ``ports``."""
    selector = (service.get("spec") or {}).get("selector") or {}
    groups: dict[PortsKey, list[dict[str, Any]]] = {}
    for pod in pods:
        if not selects(selector, pod) or is_terminal(pod) or not (pod.get("status") or {}).get("podIP"):
            continue
        groups.setdefault(_pod_ports(service, pod), []).append(_endpoint(pod))
    if not groups:
        groups[()] = []  # kube keeps a placeholder slice, so a Service always has one
    slices: dict[str, dict[str, Any]] = {}
    for ports, endpoints in groups.items():
        slices[slice_name(service, ports)] = {
            "addressType": "IPv4",
            "endpoints": sorted(endpoints, key=lambda e: (e["addresses"][0], e["targetRef"]["name"])),
            "ports": [
                {
                    "name": name,
                    "port": port,
                    "protocol": protocol,
                    **({"appProtocol": app_protocol} if app_protocol else {}),
                }
                for name, port, protocol, app_protocol in ports
            ],
        }
    return slices


class EndpointSliceController:
    """Reconciles the slices of one Service (requests name Services, as for the Endpoints controller)."""

    def __init__(self, client: ClusterClient, services: Informer, pods: Informer, slices: Informer) -> None:
        self.client, self.services, self.pods, self.slices = client, services, pods, slices

    def _current(self, namespace: str, service_name: str) -> dict[str, dict[str, Any]]:
        return {
            s["metadata"]["name"]: s
            for s in self.slices.store.list(namespace)
            if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == service_name
            and (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY
        }

    async def reconcile(self, request: Request) -> Result:
        service = self.services.store.get(request.name, request.namespace)
        current = self._current(request.namespace, request.name)
        if service is None or not (service.get("spec") or {}).get("selector"):
            # A deleted Service's slices go with it (owner reference); a selector removed leaves none.
            if service is not None:
                for name in current:
                    await self._delete(request.namespace, name)
            return Result()
        wanted = desired_slices(service, self.pods.store.list(request.namespace))
        for name, content in wanted.items():
            existing = current.get(name)
            if existing is None:
                await self._create(service, name, content)
            elif any(existing.get(field) != value for field, value in content.items()):
                await self.client.patch(ENDPOINT_SLICE, name, content, request.namespace)
        for name in current.keys() - wanted.keys():
            await self._delete(request.namespace, name)
        return Result()

    async def _create(self, service: dict[str, Any], name: str, content: dict[str, Any]) -> None:
        metadata = service["metadata"]
        body: dict[str, Any] = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": name,
                "namespace": metadata["namespace"],
                "generateName": f"{metadata['name']}-",
                "labels": {
                    **(metadata.get("labels") or {}),
                    SERVICE_NAME_LABEL: metadata["name"],
                    MANAGED_BY_LABEL: MANAGED_BY,
                },
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": metadata["name"],
                        "uid": metadata["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            **content,
        }
        try:
            await self.client.create(ENDPOINT_SLICE, body)
        except KubeAPIError as error:
            if not error.conflict:
                raise
            await self.client.patch(ENDPOINT_SLICE, name, content, metadata["namespace"])

    async def _delete(self, namespace: str, name: str) -> None:
        await self.client.delete(ENDPOINT_SLICE, name, namespace, missing_ok=True)
