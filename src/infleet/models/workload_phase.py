"""The workload phase: render the engine's Deployments, StatefulSets and Services and converge them.

Written only when the rendered hash changes; objects this deployment owns but no longer renders are
deleted. A 409 (changed or created meanwhile) propagates: the controller requeues it quietly.
"""

from __future__ import annotations

import asyncio
from typing import Any

from infleet.api.catalog import Catalog
from infleet.api.kubernetes import DEPLOYMENT, SERVICE, STATEFULSET
from infleet.api.labels import MODEL_DEPLOYMENT_LABEL, RENDERED_HASH_ANNOTATION
from infleet.api.resource_kind import ResourceKind
from infleet.api.served_names import served_model_name
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.informer import Informer
from infleet.kube.owner_references import controller_of
from infleet.kube.reconciler import Result
from infleet.models.phases import Informers, Reconciling
from infleet.models.workload import WorkloadInput, render


class WorkloadPhase:
    def __init__(self, client: ClusterClient, catalog: Catalog, informers: Informers) -> None:
        self.client = client
        self.catalog = catalog
        self.informers = informers

    async def reconcile(self, run: Reconciling) -> Result:
        outcome = run.outcome
        if outcome.spec is None or outcome.sizing is None:
            return Result()  # a spec that does not parse or fit leaves the running workload alone
        rendered = render(self._input(run))
        pairs = [
            (DEPLOYMENT, self.informers.deployments, rendered.deployments),
            (STATEFULSET, self.informers.statefulsets, rendered.statefulsets),
            (SERVICE, self.informers.services, rendered.services),
        ]
        # Independent objects: written concurrently, so a new deployment's first reconcile is one round trip.
        await asyncio.gather(
            *(self._upsert(kind, informer, item) for kind, informer, desired in pairs for item in desired)
        )
        for kind, informer, desired in pairs:
            keep = {item["metadata"]["name"] for item in desired}
            for stale in informer.store.by_label(MODEL_DEPLOYMENT_LABEL, run.name):
                if self._collectable(run, stale, keep):
                    await self._delete(kind, stale)
        return Result()

    def _input(self, run: Reconciling) -> WorkloadInput:
        spec, sizing = run.outcome.spec, run.outcome.sizing
        assert spec is not None
        assert sizing is not None
        model = None if sizing.kv_bytes_per_token == 0 else self.catalog.model(sizing.model)
        return WorkloadInput(
            owner=run.obj,
            spec=spec,
            sizing=sizing,
            model_id=model.name if model else spec.model.removeprefix("hf:"),
            served_name=served_model_name(spec, self.catalog),
            weights_gib=model.size_on_disk_gib if model else None,
            replicas=run.outcome.desired,
        )

    @staticmethod
    def _collectable(run: Reconciling, obj: dict[str, Any], keep: set[str]) -> bool:
        """Owned by this very object (uid), in its namespace, and no longer rendered."""
        ref = controller_of(obj)
        return (
            obj["metadata"].get("namespace") == run.namespace
            and obj["metadata"]["name"] not in keep
            and ref is not None
            and ref.get("uid") == run.obj["metadata"]["uid"]
        )

    async def _upsert(self, kind: ResourceKind, informer: Informer, desired: dict[str, Any]) -> None:
        metadata = desired["metadata"]
        current = informer.store.get(metadata["name"], metadata["namespace"])
        if current is None:
            await self.client.create(kind, desired)
            return
        current_hash = (current["metadata"].get("annotations") or {}).get(RENDERED_HASH_ANNOTATION)
        if current_hash == metadata["annotations"][RENDERED_HASH_ANNOTATION]:
            return
        body = {
            **desired,
            "metadata": {**metadata, "resourceVersion": current["metadata"]["resourceVersion"]},
        }
        if kind == SERVICE:  # clusterIP is immutable once allocated
            body["spec"] = {
                **body["spec"],
                **{k: v for k, v in current["spec"].items() if k == "clusterIP"},
            }
        await self.client.replace(kind, body)

    async def _delete(self, kind: ResourceKind, obj: dict[str, Any]) -> None:
        try:
            await self.client.delete(kind, obj["metadata"]["name"], obj["metadata"]["namespace"])
        except KubeAPIError as error:
            if not error.not_found:
                raise
