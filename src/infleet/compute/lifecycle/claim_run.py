"""One reconcile of a NodeClaim as the lifecycle phases share it: the claim as last written, its Node
once registered, and whether a phase deleted it (later phases then stop). Also the small writes every
phase makes: a status condition and the claim's deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infleet.api.karpenter_sh.v1.node_claim import NODE_CLAIM
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import get_condition, is_true, set_condition
from infleet.kube.status_patch import patch_status


@dataclass
class ClaimRun:
    claim: dict[str, Any]
    node: dict[str, Any] | None = None
    deleted: bool = False

    @property
    def name(self) -> str:
        return str(self.claim["metadata"]["name"])

    def has(self, condition: str) -> bool:
        return is_true((self.claim.get("status") or {}).get("conditions"), condition)

    def since(self, condition: str) -> str | None:
        found = get_condition((self.claim.get("status") or {}).get("conditions"), condition)
        return str(found["lastTransitionTime"]) if found and found.get("lastTransitionTime") else None


async def set_claim_condition(
    client: ClusterClient,
    run: ClaimRun,
    clock: Clock,
    condition: str,
    status: bool,
    reason: str,
    message: str = "",
    extra: dict[str, Any] | None = None,
) -> None:
    """Set one condition (and ``extra`` status fields) in one status patch."""
    generation = run.claim["metadata"].get("generation")

    def mutate(current: dict[str, Any]) -> None:
        current.update(extra or {})
        conditions = current.setdefault("conditions", [])
        set_condition(conditions, condition, status, reason, message, generation, now=clock.wall())

    run.claim = await patch_status(client, NODE_CLAIM, run.claim, mutate)


async def delete_claim(client: ClusterClient, run: ClaimRun) -> None:
    await client.delete(NODE_CLAIM, run.name, missing_ok=True)
    run.deleted = True
