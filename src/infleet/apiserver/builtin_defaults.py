"""Defaults kube-apiserver fills in for built-in kinds, so stored objects look like a real cluster's.

Only absent fields are filled, so applying defaults again on update changes nothing. Service cluster
IPs are allocated here from the service CIDR, unique within the cluster.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infleet.apiserver.controller_defaults import CONTROLLER_DEFAULTS, section
from infleet.apiserver.resources import ResourceType

if TYPE_CHECKING:
    from infleet.apiserver.cluster import Cluster

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def apply_builtin_defaults(
    resource: ResourceType, obj: dict[str, Any], cluster: Cluster, old: dict[str, Any] | None = None
) -> None:
    """Fill the defaults of a built-in kind; a part of the wrong type is left for validation to report.

    ``old`` is the stored object an update replaces: what the server allocated (a cluster IP) stays.
    """
    if not resource.builtin:
        return
    kind = (resource.group, resource.kind)
    if kind == ("", "Service"):
        _service_defaults(obj, cluster, old)
    elif kind in _DEFAULTS:
        _DEFAULTS[kind](obj)
    elif kind in CONTROLLER_DEFAULTS:
        CONTROLLER_DEFAULTS[kind](obj, _pod_spec_defaults)


def _namespace_defaults(obj: dict[str, Any]) -> None:
    if (spec := section(obj, "spec")) is not None:
        spec.setdefault("finalizers", ["kubernetes"])
    if (status := section(obj, "status")) is not None:
        status.setdefault("phase", "Active")


def _pod_defaults(obj: dict[str, Any]) -> None:
    if (spec := section(obj, "spec")) is not None:
        _pod_spec_defaults(spec)
    if (status := section(obj, "status")) is not None:
        status.setdefault("phase", "Pending")


def _claim_defaults(obj: dict[str, Any]) -> None:
    if (spec := section(obj, "spec")) is not None:
        spec.setdefault("volumeMode", "Filesystem")
    if (status := section(obj, "status")) is not None:
        status.setdefault("phase", "Pending")


def _volume_defaults(obj: dict[str, Any]) -> None:
    if (spec := section(obj, "spec")) is not None:
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
    if (status := section(obj, "status")) is not None:
        status.setdefault("phase", "Pending")


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    containers = spec.get("containers")
    for container in containers if isinstance(containers, list) else []:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        container.setdefault("imagePullPolicy", "IfNotPresent" if tagged or "@" in image else "Always")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        resources = container.setdefault("resources", {})
        if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
            # Like kube-apiserver: a resource with a limit and no request is requested at its limit.
            requests = resources.setdefault("requests", {})
            if isinstance(requests, dict):
                for name, quantity in resources["limits"].items():
                    requests.setdefault(name, quantity)


def _service_defaults(obj: dict[str, Any], cluster: Cluster, old: dict[str, Any] | None) -> None:
    if (spec := section(obj, "spec")) is None:
        return
    old_spec = (old or {}).get("spec") or {}
    if spec.get("clusterIP") in (None, "") and old_spec.get("clusterIP") not in (None, "", "None"):
        # Like kube-apiserver, an update that leaves the allocated address out keeps it.
        spec["clusterIP"] = old_spec["clusterIP"]
        spec.setdefault("clusterIPs", old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    ports = spec.get("ports")
    for port in ports if isinstance(ports, list) else []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    if spec.get("type") == "ExternalName":
        return  # a DNS alias: no address is allocated
    if spec.get("clusterIP") in (None, ""):
        spec["clusterIP"] = _allocate_cluster_ip(obj, cluster)
    spec.setdefault("clusterIPs", [spec["clusterIP"]])


def _allocate_cluster_ip(obj: dict[str, Any], cluster: Cluster) -> str:
    """A stable, unused address: hash the object's identity, probe forward on collision."""
    taken = {
        str((svc.get("spec") or {}).get("clusterIP"))
        for svc in cluster.store.items("services")
        if svc["metadata"].get("uid") != obj["metadata"].get("uid")
    }
    identity = f"{obj['metadata'].get('namespace')}/{obj['metadata'].get('name')}".encode()
    offset = int.from_bytes(hashlib.sha256(identity).digest()[:4], "big")
    size = SERVICE_CIDR.num_addresses - 2
    for probe in range(size):
        address = str(SERVICE_CIDR.network_address + 1 + (offset + probe) % size)
        if address not in taken:
            return address
    raise RuntimeError("service CIDR exhausted")


_DEFAULTS: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("", "Namespace"): _namespace_defaults,
    ("", "Pod"): _pod_defaults,
    ("", "PersistentVolumeClaim"): _claim_defaults,
    ("", "PersistentVolume"): _volume_defaults,
}
