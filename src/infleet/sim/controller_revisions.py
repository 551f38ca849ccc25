"""ControllerRevisions: the template history of a StatefulSet or DaemonSet, as kube-controller-manager
keeps it.

Each distinct pod template gets one revision named ``<owner>-<hash>``, owned by the workload and
labelled with the template's labels (so the owner's selector finds it) plus ``controller-revision-hash``.
Its ``data`` is the strategic merge patch ``{"spec": {"template": {..., "$patch": "replace"}}}`` that
``kubectl rollout history --revision`` shows and ``kubectl rollout undo`` sends back; returning to an
old template reuses its revision and renumbers it as the newest. Revisions past
``revisionHistoryLimit`` that no pod runs are deleted, oldest first.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from infleet.api.kubernetes import CONTROLLER_REVISION
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.informer import Informer
from infleet.kube.owner_references import set_controller_reference
from infleet.sim.deployment_replicasets import pod_template_hash

REVISION_HASH_LABEL = "controller-revision-hash"

Revision = dict[str, Any]


def revision_number(revision: Revision) -> int:
    return int(revision.get("revision") or 0)


def revision_data(owner: dict[str, Any]) -> dict[str, Any]:
    """The patch that restores ``owner``'s current pod template."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


class RevisionHistory:
    """Keeps the ControllerRevisions of the workloads one controller manages."""

    def __init__(self, client: ClusterClient, revisions: Informer) -> None:
        self.client, self.revisions = client, revisions

    def owned(self, owner: dict[str, Any]) -> list[Revision]:
        return sorted(self.revisions.store.owned_by(owner["metadata"]["uid"]), key=revision_number)

    async def current(self, owner: dict[str, Any]) -> tuple[str, str]:
        """The revision of ``owner``'s template, created or renumbered as the newest: (name, hash)."""
        template = (owner.get("spec") or {}).get("template") or {}
        template_hash = pod_template_hash(template)
        name = f"{owner['metadata']['name']}-{template_hash}"
        owned = self.owned(owner)
        newest = max((revision_number(r) for r in owned), default=0)
        existing = next((r for r in owned if r["metadata"]["name"] == name), None)
        if existing is None:
            await self._create(owner, name, template_hash, newest + 1)
        elif revision_number(existing) < newest:
            await self.client.patch(
                CONTROLLER_REVISION, name, {"revision": newest + 1}, owner["metadata"]["namespace"]
            )
        return name, template_hash

    async def _create(self, owner: dict[str, Any], name: str, template_hash: str, number: int) -> None:
        template_labels = (((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        body: Revision = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "labels": {**template_labels, REVISION_HASH_LABEL: template_hash},
                # The owner's annotations, ``kubernetes.io/change-cause`` among them (rollout history).
                "annotations": dict(owner["metadata"].get("annotations") or {}),
            },
            "data": revision_data(owner),
            "revision": number,
        }
        set_controller_reference(owner, body)
        try:
            await self.client.create(CONTROLLER_REVISION, body)
        except KubeAPIError as error:
            if not error.conflict:  # made by an earlier pass the cache has not shown yet
                raise

    async def prune(self, owner: dict[str, Any], in_use: Iterable[str]) -> None:
        """Delete the oldest revisions past ``revisionHistoryLimit`` that ``in_use`` does not name."""
        limit = int((owner.get("spec") or {}).get("revisionHistoryLimit", 10))
        keep = set(in_use)
        idle = [r for r in self.owned(owner) if r["metadata"]["name"] not in keep]
        for revision in idle[: max(0, len(idle) - limit)]:
            await self.client.delete(
                CONTROLLER_REVISION,
                revision["metadata"]["name"],
                owner["metadata"]["namespace"],
                missing_ok=True,
            )
