"""API discovery: which resource types a cluster serves, so objects named only by apiVersion and kind
(a placement's resource selectors, a Work's manifests) can be listed and written.

:meth:`Discovery.resolve` reads only the discovery document of the asked group version and caches it; a
kind missing from a cached document is looked up again at most once per ``refresh_interval``, because a
CRD applied a moment ago (an earlier wave of the same Work) serves its kind moments later.
:meth:`Discovery.kinds` lists every served type (``/api/v1``, ``/apis`` and each preferred version),
cached for ``ttl``. The fleet's hub and member agent both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient


class UnknownKindError(LookupError):
    """The cluster does not serve the kind (yet): its CRD is missing or not established."""


@dataclass(frozen=True)
class ServedKind:
    """One served resource type and the verbs it allows."""

    resource: ResourceKind
    verbs: frozenset[str]


@dataclass
class _Document:
    resources: list[dict[str, Any]]
    fetched_at: float


def split_api_version(api_version: str) -> tuple[str, str]:
    """``("apps", "v1")`` for ``apps/v1``, ``("", "v1")`` for the core group."""
    group, _, version = api_version.rpartition("/")
    return group, version


def _document_path(api_version: str) -> str:
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"


class Discovery:
    """A cached view of one cluster's served resource types."""

    def __init__(
        self,
        client: ClusterClient,
        clock: Clock | None = None,
        refresh_interval: float = 1.0,
        ttl: float = 60.0,
    ) -> None:
        self._client = client
        self._clock = clock or SystemClock()
        self._refresh = refresh_interval
        self._ttl = ttl
        self._documents: dict[str, _Document] = {}
        self._groups: _Document | None = None
        self.fetches = 0

    async def resolve(self, api_version: str, kind: str) -> ResourceKind:
        """The resource type of ``apiVersion``/``kind``; raises :class:`UnknownKindError` if not served."""
        if not api_version or not kind:
            raise UnknownKindError("name both apiVersion and kind")
        document = self._documents.get(api_version)
        found = _find(document, kind)
        if found is None and (document is None or self._older_than(document, self._refresh)):
            document = await self._fetch(api_version)
            found = _find(document, kind)
        if found is None:
            raise UnknownKindError(
                f"the cluster does not serve kind {kind!r} in {api_version!r}: "
                "check apiVersion and kind, or install the CRD that defines it"
            )
        group, version = split_api_version(api_version)
        return ResourceKind(group, version, kind, str(found["name"]), bool(found.get("namespaced")))

    async def resolve_group_kind(self, group: str, version: str, kind: str) -> ResourceKind:
        """Like :meth:`resolve`; an empty ``version`` takes the group's preferred version."""
        if not version:
            version = await self._preferred_version(group)
        return await self.resolve(f"{group}/{version}" if group else version, kind)

    async def kinds(self) -> list[ServedKind]:
        """Every served top-level resource type in each group's preferred version."""
        served: list[ServedKind] = []
        for api_version in ["v1", *[f"{group}/{version}" for group, version in await self._group_versions()]]:
            document = self._documents.get(api_version)
            if document is None or self._older_than(document, self._ttl):
                document = await self._fetch(api_version)
            group, version = split_api_version(api_version)
            for entry in document.resources:
                if "/" in str(entry.get("name", "")):
                    continue  # a subresource
                resource = ResourceKind(
                    group, version, entry["kind"], entry["name"], bool(entry.get("namespaced"))
                )
                served.append(ServedKind(resource, frozenset(entry.get("verbs") or ())))
        return served

    async def _preferred_version(self, group: str) -> str:
        if not group:
            return "v1"
        for name, version in await self._group_versions():
            if name == group:
                return version
        raise UnknownKindError(f"the cluster serves no API group {group!r}: install the CRDs that define it")

    async def _group_versions(self) -> list[tuple[str, str]]:
        """(group, preferred version) of every API group, from ``/apis``."""
        if self._groups is None or self._older_than(self._groups, self._ttl):
            self.fetches += 1
            listing = await self._client.get_path("/apis")
            self._groups = _Document(list(listing.get("groups") or []), self._clock.now())
        return [
            (str(group["name"]), str((group.get("preferredVersion") or {}).get("version", "")))
            for group in self._groups.resources
        ]

    def _older_than(self, document: _Document, seconds: float) -> bool:
        return self._clock.now() - document.fetched_at >= seconds

    async def _fetch(self, api_version: str) -> _Document:
        self.fetches += 1
        try:
            body = await self._client.get_path(_document_path(api_version))
        except KubeAPIError as error:
            if not error.not_found:
                raise
            body = {}  # the group or version is not served (yet)
        document = _Document(list(body.get("resources") or []), self._clock.now())
        self._documents[api_version] = document
        return document


def _find(document: _Document | None, kind: str) -> dict[str, Any] | None:
    if document is None:
        return None
    return next(
        (r for r in document.resources if r.get("kind") == kind and "/" not in str(r.get("name", ""))), None
    )
