"""The immutable revisions of a placement: a scheduling policy snapshot per distinct policy and a
resource snapshot per distinct set of selected objects, numbered from 0, the newest labelled latest,
at most ``revisionHistoryLimit`` kept. As in KubeFleet, a change of ``numberOfClusters`` alone does not
make a new policy snapshot (that would reshuffle placements); it updates the latest one's annotation.
The placement controller calls :class:`Snapshotter`; the scheduler and rollout read the latest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from infleet.api.labels import (
    IS_LATEST_SNAPSHOT_LABEL,
    NUMBER_OF_CLUSTERS_ANNOTATION,
    PLACEMENT_GENERATION_ANNOTATION,
    POLICY_INDEX_LABEL,
    RESOURCE_HASH_ANNOTATION,
    RESOURCE_INDEX_LABEL,
)
from infleet.api.resource_kind import ResourceKind
from infleet.fleet.hub.placement_kinds import PlacementKinds
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.store import Store

RESOURCE_SNAPSHOT_SUFFIX = "-snapshot"


def content_hash(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def owned_snapshots(store: Store, kinds: PlacementKinds, namespace: str, name: str) -> list[dict[str, Any]]:
    """The placement's snapshots in ``store``, oldest first."""
    return sorted(kinds.owned(store, namespace, name), key=_index)


def latest(snapshots: list[dict[str, Any]]) -> dict[str, Any] | None:
    flagged = [
        s for s in snapshots if (s["metadata"].get("labels") or {}).get(IS_LATEST_SNAPSHOT_LABEL) == "true"
    ]
    candidates = flagged or snapshots
    return candidates[-1] if candidates else None


def resource_index_of(snapshot_name: str) -> str:
    """The index in a resource snapshot's name, ``<placement>-<index>-snapshot``."""
    return snapshot_name.removesuffix(RESOURCE_SNAPSHOT_SUFFIX).rpartition("-")[2]


def _index(snapshot: Mapping[str, Any]) -> int:
    labels = snapshot["metadata"].get("labels") or {}
    return int(labels.get(POLICY_INDEX_LABEL) or labels.get(RESOURCE_INDEX_LABEL) or 0)


class Snapshotter:
    """Writes new snapshots when the policy or the selected objects change."""

    def __init__(
        self, client: ClusterClient, kinds: PlacementKinds, policies: Store, resources: Store
    ) -> None:
        self._client = client
        self._kinds = kinds
        self._policies = policies
        self._resources = resources

    async def policy_snapshot(self, placement: dict[str, Any]) -> str:
        """The name of the latest policy snapshot, written first if the policy changed."""
        metadata = placement["metadata"]
        namespace, name = metadata.get("namespace") or "", metadata["name"]
        policy = (placement.get("spec") or {}).get("policy")
        count = (policy or {}).get("numberOfClusters")
        digest = content_hash({k: v for k, v in (policy or {}).items() if k != "numberOfClusters"})
        annotations = {
            PLACEMENT_GENERATION_ANNOTATION: str(metadata.get("generation", 1)),
            **({NUMBER_OF_CLUSTERS_ANNOTATION: str(count)} if count is not None else {}),
        }
        existing = owned_snapshots(self._policies, self._kinds, namespace, name)
        current = latest(existing)
        if current is not None and (current.get("spec") or {}).get("policyHash") == digest:
            if (current["metadata"].get("annotations") or {}) != annotations:
                await self._client.patch(
                    self._kinds.policy_snapshot,
                    current["metadata"]["name"],
                    {"metadata": {"annotations": annotations}},
                    current["metadata"].get("namespace"),
                )
            return str(current["metadata"]["name"])
        spec = {"policyHash": digest, **({"policy": policy} if policy is not None else {})}
        return await self._write(
            self._kinds.policy_snapshot, placement, existing, POLICY_INDEX_LABEL, spec, annotations, ""
        )

    async def resource_snapshot(self, placement: dict[str, Any], selected: list[dict[str, Any]]) -> str:
        """The name of the latest resource snapshot, written first if the selected objects changed."""
        metadata = placement["metadata"]
        namespace, name = metadata.get("namespace") or "", metadata["name"]
        digest = content_hash(selected)
        existing = owned_snapshots(self._resources, self._kinds, namespace, name)
        current = latest(existing)
        if (
            current is not None
            and (current["metadata"].get("annotations") or {}).get(RESOURCE_HASH_ANNOTATION) == digest
        ):
            return str(current["metadata"]["name"])
        spec = {"selectedResources": selected}
        annotations = {RESOURCE_HASH_ANNOTATION: digest}
        return await self._write(
            self._kinds.resource_snapshot,
            placement,
            existing,
            RESOURCE_INDEX_LABEL,
            spec,
            annotations,
            RESOURCE_SNAPSHOT_SUFFIX,
        )

    async def _write(
        self,
        kind: ResourceKind,
        placement: dict[str, Any],
        existing: list[dict[str, Any]],
        index_label: str,
        spec: dict[str, Any],
        annotations: dict[str, str],
        suffix: str,
    ) -> str:
        metadata = placement["metadata"]
        namespace, name = metadata.get("namespace") or "", metadata["name"]
        index = _index(existing[-1]) + 1 if existing else 0
        snapshot_name = f"{name}-{index}{suffix}"
        labels = {
            **self._kinds.owner_labels(namespace, name),
            index_label: str(index),
            IS_LATEST_SNAPSHOT_LABEL: "true",
        }
        body: dict[str, Any] = {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "metadata": {"name": snapshot_name, "labels": labels, "annotations": annotations},
            "spec": spec,
        }
        if self._kinds.namespaced:
            body["metadata"]["namespace"] = namespace
        # Created first, then the older ones unflagged: a crash in between leaves two "latest", and the
        # highest index wins when read (``latest``), so nothing is ever without a latest snapshot.
        await self._client.create(kind, body, namespace or None)
        for old in existing:
            if (old["metadata"].get("labels") or {}).get(IS_LATEST_SNAPSHOT_LABEL) != "false":
                patch = {"metadata": {"labels": {IS_LATEST_SNAPSHOT_LABEL: "false"}}}
                await self._client.patch(
                    kind, old["metadata"]["name"], patch, old["metadata"].get("namespace")
                )
        await self._prune(
            kind, existing, int((placement.get("spec") or {}).get("revisionHistoryLimit") or 10)
        )
        return snapshot_name

    async def _prune(self, kind: ResourceKind, existing: list[dict[str, Any]], limit: int) -> None:
        # ``existing`` plus the new one must stay within the limit.
        for old in existing[: max(0, len(existing) + 1 - limit)]:
            await self._client.delete(kind, old["metadata"]["name"], old["metadata"].get("namespace"))
