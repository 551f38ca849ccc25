"""Which API resource a request addresses: group, version, kind, plural, scope.

Every layer names resources with :class:`ResourceKind`, so built-in kinds and Infleet's custom resources
are handled by the same code. Each kind is defined once: the built-ins in :mod:`infleet.api.kubernetes`,
Infleet's and its peers' kinds in the module of their API group and version.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class ResourceKind:
    """One resource type of the API, e.g. ``ResourceKind("apps", "v1", "Deployment", "deployments")``."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True

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
