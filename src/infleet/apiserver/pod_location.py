"""Where a pod's streams go: which of its containers a request means, and its node's kubelet address.

Shared by ``pods/log`` and the streaming subresources (exec, attach, port-forward); the messages are
kube-apiserver's.
"""

from __future__ import annotations

from typing import Any

from infleet.apiserver.errors import bad_request


def container_name(pod: dict[str, Any], wanted: str | None) -> str:
    """The container a request names, or the pod's only one."""
    names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    pod_name = pod["metadata"]["name"]
    if wanted:
        if wanted not in names:
            raise bad_request(f"container {wanted} is not valid for pod {pod_name}")
        return wanted
    if len(names) != 1:
        raise bad_request(
            f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(names)}]"
        )
    return names[0]


def kubelet_address(node: dict[str, Any]) -> str | None:
    """``host:port`` of a node's kubelet, or None when the node publishes none."""
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    host = next(
        (a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None
    )
    return f"{host}:{port}" if host and port else None
