"""The member-side AppliedWork of a Work: owner of everything applied for it, and the record of what was.

Every applied object carries an owner reference to its AppliedWork, so deleting the AppliedWork lets the
member's garbage collector remove what is left; ``status.appliedResources`` says what was applied, so
objects that leave the Work are deleted by name. Objects another owner shares are only released.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infleet.api.placement_kubernetes_fleet_io.v1beta1.work import APPLIED_WORK
from infleet.api.resource_kind import ResourceKind
from infleet.fleet.member.work_status import identity
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.status_patch import patch_status
from infleet.kube.store import Store


def owner_reference(applied_work: dict[str, Any]) -> dict[str, Any]:
    """Not a controller reference: the member's own controllers may still control what the hub places."""
    return {
        "apiVersion": APPLIED_WORK.api_version,
        "kind": APPLIED_WORK.kind,
        "name": applied_work["metadata"]["name"],
        "uid": applied_work["metadata"]["uid"],
        "blockOwnerDeletion": False,
    }


def recorded(applied_work: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list(((applied_work or {}).get("status") or {}).get("appliedResources") or [])


def _kind_of(resource: dict[str, Any]) -> ResourceKind:
    return ResourceKind(
        str(resource.get("group") or ""),
        str(resource.get("version") or ""),
        str(resource.get("kind") or ""),
        str(resource.get("resource") or ""),
        namespaced=bool(resource.get("namespace")),
    )


class AppliedWorks:
    """Creates, records and deletes AppliedWorks and what they own in the member cluster."""

    def __init__(self, member: ClusterClient, store: Store) -> None:
        self.member = member
        self.store = store

    def get(self, name: str) -> dict[str, Any] | None:
        return self.store.get(name)

    async def ensure(self, work: dict[str, Any]) -> dict[str, Any]:
        """The AppliedWork named after ``work``, created when missing."""
        metadata = work["metadata"]
        found = self.store.get(metadata["name"])
        if found is not None:
            return found
        body = {
            "apiVersion": APPLIED_WORK.api_version,
            "kind": APPLIED_WORK.kind,
            "metadata": {"name": metadata["name"]},
            "spec": {"workName": metadata["name"], "workNamespace": metadata["namespace"]},
        }
        try:
            return await self.member.create(APPLIED_WORK, body)
        except KubeAPIError as error:
            if not error.conflict:
                raise
            return await self.member.get(APPLIED_WORK, metadata["name"])  # created since the cache heard

    async def record(self, applied_work: dict[str, Any], resources: list[dict[str, Any]]) -> dict[str, Any]:
        def mutate(status: dict[str, Any]) -> None:
            status["appliedResources"] = resources

        return await patch_status(self.member, APPLIED_WORK, applied_work, mutate)

    async def delete_objects(self, applied_work: dict[str, Any], resources: Iterable[dict[str, Any]]) -> None:
        """Delete (or, when shared, release) each recorded object this AppliedWork owns."""
        uid = applied_work["metadata"]["uid"]
        for resource in resources:
            kind = _kind_of(resource)
            name, namespace = str(resource.get("name") or ""), resource.get("namespace") or None
            if not kind.plural or not name:
                continue
            try:
                obj = await self.member.get(kind, name, namespace)
                refs = obj["metadata"].get("ownerReferences") or []
                if not any(ref.get("uid") == uid for ref in refs):
                    continue  # not ours (re-created by someone else): leave it
                others = [ref for ref in refs if ref.get("uid") != uid]
                if others:
                    await self.member.patch(kind, name, {"metadata": {"ownerReferences": others}}, namespace)
                else:
                    await self.member.delete(kind, name, namespace)
            except KubeAPIError as error:
                if not error.not_found:
                    raise

    async def delete(self, applied_work: dict[str, Any]) -> None:
        """Delete what it recorded, then the AppliedWork itself (the garbage collector takes any rest)."""
        await self.delete_objects(applied_work, recorded(applied_work))
        try:
            await self.member.delete(APPLIED_WORK, applied_work["metadata"]["name"])
        except KubeAPIError as error:
            if not error.not_found:
                raise


def stale(previous: Iterable[dict[str, Any]], manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recorded resources no manifest names any more (a manifest without a namespace matches any)."""
    wanted = {identity(m) for m in manifests}
    unscoped = {(group, kind, name) for group, kind, namespace, name in wanted if not namespace}
    return [
        r
        for r in previous
        if identity(r) not in wanted and (identity(r)[0], identity(r)[1], identity(r)[3]) not in unscoped
    ]
