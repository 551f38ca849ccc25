"""The simulated disruption controller: keeps each PodDisruptionBudget's status current.

It writes what kube-controller-manager's disruption controller writes (``observedGeneration``,
``expectedPods``, ``currentHealthy``, ``desiredHealthy``, ``disruptionsAllowed`` and the
``DisruptionAllowed`` condition) with the arithmetic the API server's eviction subresource uses
(:mod:`infleet.api.disruption_budgets`), so ``kubectl get pdb`` shows the disruptions an eviction
would be allowed. The API server does not wait for this status: it computes the same at each eviction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infleet.api.disruption_budgets import budget_status, selects
from infleet.api.kubernetes import POD_DISRUPTION_BUDGET
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import set_condition
from infleet.kube.informer import Informer, InformerEvent
from infleet.kube.reconciler import Request, Result
from infleet.kube.status_patch import patch_status


class DisruptionController:
    def __init__(
        self, client: ClusterClient, budgets: Informer, pods: Informer, controllers: Mapping[str, Informer]
    ) -> None:
        """``controllers``: informers of the scaled kinds whose ``spec.replicas`` budgets count, by kind."""
        self.client, self.budgets, self.pods, self.controllers = client, budgets, pods, controllers

    def budgets_of_pod(self, event: InformerEvent) -> list[Request]:
        namespace = event.obj["metadata"]["namespace"]
        return [
            Request(event.cluster, namespace, pdb["metadata"]["name"])
            for pdb in self.budgets.store.list(namespace)
            if selects(pdb, event.obj) or (event.old is not None and selects(pdb, event.old))
        ]

    def budgets_of_namespace(self, event: InformerEvent) -> list[Request]:
        """A controller's scale changed: every budget of its namespace may count it."""
        namespace = event.obj["metadata"]["namespace"]
        return [
            Request(event.cluster, namespace, pdb["metadata"]["name"])
            for pdb in self.budgets.store.list(namespace)
        ]

    def _replicas_of(self, namespace: str, owner: Mapping[str, Any]) -> int | None:
        informer = self.controllers.get(str(owner.get("kind")))
        controller = informer.store.get(str(owner.get("name")), namespace) if informer else None
        if controller is None or controller["metadata"].get("uid") != owner.get("uid"):
            return None
        return int((controller.get("spec") or {}).get("replicas", 1))

    async def reconcile(self, request: Request) -> Result:
        pdb = self.budgets.store.get(request.name, request.namespace)
        if pdb is None or pdb["metadata"].get("deletionTimestamp"):
            return Result()
        status = budget_status(pdb, self.pods.store.list(request.namespace), self._replicas_of)
        generation = int(pdb["metadata"].get("generation", 1))

        def mutate(current: dict[str, Any]) -> None:
            current.update(status.as_status(generation))
            allowed = status.disruptions_allowed > 0
            set_condition(
                current.setdefault("conditions", []),
                "DisruptionAllowed",
                allowed,
                "SufficientPods" if allowed else "InsufficientPods",
                observed_generation=generation,
            )

        try:
            await patch_status(self.client, POD_DISRUPTION_BUDGET, pdb, mutate)
        except KubeAPIError as error:
            if not error.not_found:
                raise
        return Result()
