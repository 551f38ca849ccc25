"""Which API resource a request addresses: group, version, plural, namespaced.

Every part of the runtime (client, informer, controller) names resources with :class:`ResourceKind`, so
built-in kinds and Infleet's custom resources are handled by the same code. Lightkube resource classes
(typed built-ins, or ``create_namespaced_resource`` for CRDs) convert with :meth:`ResourceKind.of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from lightkube.core.resource import NamespacedResource, api_info


@dataclass(frozen=True)
class ResourceKind:
    """One resource type of the API, e.g. ``ResourceKind("apps", "v1", "Deployment", "deployments")``."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True

    @classmethod
    def of(cls, resource: type[Any]) -> ResourceKind:
        """The kind of a lightkube resource class (``lightkube.resources.core_v1.Pod``, generic resources)."""
        info = api_info(resource)
        namespaced = issubclass(resource, NamespacedResource)
        return cls(info.resource.group, info.resource.version, info.resource.kind, info.plural, namespaced)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path (relative to the cluster's server URL) of a collection, an object or a subresource."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{quote(namespace, safe='')}"
        path = f"{prefix}/{self.plural}"
        if name is not None:
            path += f"/{quote(name, safe='')}"
            if subresource:
                path += f"/{subresource}"
        return path

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


# Built-in kinds the runtime itself writes (leader election and Events); others come from ``of``.
LEASE = ResourceKind("coordination.k8s.io", "v1", "Lease", "leases")
EVENT = ResourceKind("", "v1", "Event", "events")
NAMESPACE = ResourceKind("", "v1", "Namespace", "namespaces", namespaced=False)
