"""Defaults kube-apiserver fills in for built-in kinds, so stored objects look like a real cluster's.

Only absent fields are filled, so applying defaults again on update changes nothing. Service cluster
IPs are allocated here from the service CIDR, unique within the cluster.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import TYPE_CHECKING, Any

from infleet.apiserver.resources import ResourceType

if TYPE_CHECKING:
    from infleet.apiserver.cluster import Cluster

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def apply_builtin_defaults(resource: ResourceType, obj: dict[str, Any], cluster: Cluster) -> None:
    if not resource.builtin:
        return
    kind = (resource.group, resource.kind)
    if kind == ("", "Namespace"):
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind == ("", "Service"):
        _service_defaults(obj, cluster)
    elif kind == ("", "Pod"):
        _pod_spec_defaults(obj.setdefault("spec", {}))
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif kind in (("apps", "Deployment"), ("apps", "StatefulSet")):
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if resource.kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {})
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                rolling.setdefault("maxSurge", "25%")
                rolling.setdefault("maxUnavailable", "25%")
        else:
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        template_spec = spec.setdefault("template", {}).setdefault("spec", {})
        if isinstance(template_spec, dict):
            _pod_spec_defaults(template_spec)


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        container.setdefault("imagePullPolicy", "IfNotPresent" if tagged or "@" in image else "Always")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})


def _service_defaults(obj: dict[str, Any], cluster: Cluster) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    if spec.get("clusterIP") is None:
        spec["clusterIP"] = _allocate_cluster_ip(obj, cluster)
    if spec["clusterIP"] != "None":
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
