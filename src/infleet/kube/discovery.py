"""API discovery: which resource types a cluster serves, so objects named only by apiVersion and kind
(a placement's resource selectors, a Work's manifests) can be listed and written.

Reads ``/api/v1``, ``/apis`` and each preferred group version once and caches the answer for ``ttl``
seconds; a kind not found refreshes the cache once (a CRD installed since). The fleet's hub and member
agent both call it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from infleet.api.resource_kind import ResourceKind
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock, SystemClock
from infleet.kube.cluster_client import ClusterClient


class UnknownKindError(LookupError):
    """The cluster serves no such apiVersion and kind."""


@dataclass(frozen=True)
class ServedKind:
    """One served resource type and the verbs it allows."""

    resource: ResourceKind
    verbs: frozenset[str]


class Discovery:
    """A cached view of one cluster's served resource types."""

    def __init__(self, client: ClusterClient, ttl: float = 60.0, clock: Clock | None = None) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock or SystemClock()
        self._kinds: dict[tuple[str, str, str], ServedKind] = {}
        self._preferred: dict[tuple[str, str], str] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def resolve(self, api_version: str, kind: str) -> ResourceKind:
        """The resource type of ``apiVersion``/``kind``; raises :class:`UnknownKindError` if not served."""
        group, _, version = api_version.rpartition("/")
        found = await self._lookup((group, version, kind))
        if found is None:
            raise UnknownKindError(f"the cluster serves no kind {kind!r} in {api_version!r}")
        return found.resource

    async def resolve_group_kind(self, group: str, version: str, kind: str) -> ResourceKind:
        """Like :meth:`resolve`; an empty ``version`` takes the group's preferred version."""
        if not version:
            await self._ensure_loaded(force=False)
            version = self._preferred.get((group, kind), "")
        return await self.resolve(f"{group}/{version}" if group else version, kind)

    async def kinds(self) -> list[ServedKind]:
        """Every served top-level resource type (preferred versions), subresources left out."""
        await self._ensure_loaded(force=False)
        return [
            served
            for (group, version, kind), served in self._kinds.items()
            if self._preferred.get((group, kind)) == version
        ]

    async def _lookup(self, key: tuple[str, str, str]) -> ServedKind | None:
        await self._ensure_loaded(force=False)
        if key not in self._kinds:
            await self._ensure_loaded(force=True)
        return self._kinds.get(key)

    async def _ensure_loaded(self, force: bool) -> None:
        async with self._lock:
            now = self._clock.now()
            if not force and self._loaded_at is not None and now - self._loaded_at < self._ttl:
                return
            kinds: dict[tuple[str, str, str], ServedKind] = {}
            preferred: dict[tuple[str, str], str] = {}
            await self._load_version(kinds, preferred, "", "v1", preferred_version=True)
            groups = await self._client.get_path("/apis")
            for group in groups.get("groups") or []:
                best = (group.get("preferredVersion") or {}).get("version")
                for version in group.get("versions") or []:
                    name = version.get("version", "")
                    await self._load_version(kinds, preferred, group["name"], name, name == best)
            self._kinds, self._preferred, self._loaded_at = kinds, preferred, now

    async def _load_version(
        self,
        kinds: dict[tuple[str, str, str], ServedKind],
        preferred: dict[tuple[str, str], str],
        group: str,
        version: str,
        preferred_version: bool,
    ) -> None:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            listing = await self._client.get_path(path)
        except KubeAPIError as error:
            if error.not_found:  # a group version removed between the two reads
                return
            raise
        for entry in listing.get("resources") or []:
            if "/" in entry.get("name", ""):
                continue
            resource = ResourceKind(
                group, version, entry["kind"], entry["name"], bool(entry.get("namespaced"))
            )
            kinds[(group, version, entry["kind"])] = ServedKind(resource, frozenset(entry.get("verbs") or ()))
            if preferred_version or (group, entry["kind"]) not in preferred:
                preferred[(group, entry["kind"])] = version
