"""URL parsing for the Kubernetes REST layout, independent of HTTP machinery.

``/clusters/<cluster>/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>/<subresource>`` and the
core ``/api/v1/...`` form are decoded into a :class:`ResourcePath`; anything else is a non-resource
path (discovery, OpenAPI, health) left to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from infleet.apiserver.errors import StatusError

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def split_cluster(path: str, default_cluster: str | None) -> tuple[str, str]:
    """Return (cluster name, path inside the cluster)."""
    if path.startswith("/clusters/"):
        rest = path[len("/clusters/") :]
        cluster, _, inner = rest.partition("/")
        return cluster, "/" + inner
    if default_cluster is None:
        raise StatusError(
            404,
            "NotFound",
            f"no cluster in path {path!r}: use /clusters/<name>/..., or the token of a cluster's "
            f"kubeconfig context (kubectl proxy --context infleet-<name>)",
        )
    return default_cluster, path


def parse_resource_path(path: str) -> ResourcePath | None:
    """Decode a resource URL, or None for discovery-level paths such as ``/apis/<group>/<version>``."""
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 3 and segments[0] == "api":
        group, version, rest = "", segments[1], segments[2:]
    elif len(segments) >= 4 and segments[0] == "apis":
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        return None
    namespace = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise StatusError(404, "NotFound", f"the server could not find the requested resource: {path}")
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    return ResourcePath(group, version, plural, namespace, name, subresource)
