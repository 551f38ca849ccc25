"""Which resource (plural, scope) a manifest's apiVersion and kind name in the member cluster.

Read from the member API server's discovery documents (``/api/v1``, ``/apis/<group>/<version>``) and
cached per group and version. A kind missing from a cached document is looked up again (at most once per
``refresh_interval``), because a CRD applied in an earlier wave of the same Work serves its kind moments
later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient


class UnknownKindError(LookupError):
    """The member cluster does not serve the kind (yet): its CRD is missing or not established."""


@dataclass
class _Document:
    resources: list[dict[str, Any]]
    fetched_at: float


def discovery_path(api_version: str) -> str:
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"


def split_api_version(api_version: str) -> tuple[str, str]:
    """``("apps", "v1")`` for ``apps/v1``, ``("", "v1")`` for the core group."""
    group, _, version = api_version.rpartition("/")
    return group, version


class ResourceDiscovery:
    """Resolves ``(apiVersion, kind)`` to a :class:`ResourceKind` of the member cluster, with a cache."""

    def __init__(self, client: ClusterClient, clock: Clock, refresh_interval: float = 1.0) -> None:
        self.client = client
        self.clock = clock
        self.refresh_interval = refresh_interval
        self._documents: dict[str, _Document] = {}
        self.fetches = 0

    async def resolve(self, api_version: str, kind: str) -> ResourceKind:
        if not api_version or not kind:
            raise UnknownKindError("the manifest needs apiVersion and kind")
        document = self._documents.get(api_version)
        found = _find(document, kind)
        if found is None and (document is None or self._stale(document)):
            document = await self._fetch(api_version)
            found = _find(document, kind)
        if found is None:
            raise UnknownKindError(
                f"the member cluster does not serve kind {kind!r} in {api_version!r}: "
                "check the manifest's apiVersion and kind, or install the CRD that defines it"
            )
        group, version = split_api_version(api_version)
        return ResourceKind(group, version, kind, str(found["name"]), bool(found.get("namespaced")))

    def _stale(self, document: _Document) -> bool:
        return self.clock.now() - document.fetched_at >= self.refresh_interval

    async def _fetch(self, api_version: str) -> _Document:
        self.fetches += 1
        try:
            body = await self.client.get_path(discovery_path(api_version))
        except KubeAPIError as error:
            if not error.not_found:
                raise
            body = {}  # the group or version is not served (yet)
        document = _Document(list(body.get("resources") or []), self.clock.now())
        self._documents[api_version] = document
        return document


def _find(document: _Document | None, kind: str) -> dict[str, Any] | None:
    if document is None:
        return None
    return next(
        (r for r in document.resources if r.get("kind") == kind and "/" not in str(r.get("name", ""))), None
    )
