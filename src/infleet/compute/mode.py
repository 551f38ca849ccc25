"""How the compute layer runs in a cluster, and how ``auto`` picks. ``infleet``: Infleet's provisioner,
NodeClaim lifecycle and disruption serve FlexNodeClass pools. ``karpenter``: a Karpenter install owns
provisioning, NodeClaims and disruption, and Infleet runs only its status controllers (two controllers
acting on the same pending pods or NodeClaims would fight). ``auto`` resolves once, at start, to
``karpenter`` when a running Karpenter is found (:func:`detect_karpenter`), else ``infleet``. The CLI
(``infleet compute --mode``) resolves it before :func:`infleet.compute.manager.add_compute_controllers`.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from infleet.api.kubernetes import DEPLOYMENT, LEASE
from infleet.kube.api_error import KubeAPIError
from infleet.kube.clock import Clock
from infleet.kube.cluster_client import ClusterClient
from infleet.kube.conditions import parse_timestamp

log = logging.getLogger(__name__)

#: The label Karpenter's Helm chart puts on its Deployment, in whatever namespace it is installed.
KARPENTER_APP_SELECTOR = "app.kubernetes.io/name=karpenter"
#: Karpenter's leader-election Lease (its default name) and the namespaces its docs install it in.
KARPENTER_LEASE = "karpenter-leader-election"
KARPENTER_NAMESPACES = ("kube-system", "karpenter")
#: A Lease not renewed for this long (or four lease durations, if longer) is left over, not running.
STALE_LEASE_SECONDS = 60.0


class ComputeMode(StrEnum):
    INFLEET = "infleet"
    KARPENTER = "karpenter"
    AUTO = "auto"


async def detect_karpenter(client: ClusterClient, clock: Clock) -> str | None:
    """Evidence that Karpenter runs in ``client``'s cluster, or None. Either signal suffices: a Deployment
    labeled ``app.kubernetes.io/name=karpenter`` with an available replica (any namespace), or Karpenter's
    leader-election Lease held and renewed recently in ``kube-system`` or ``karpenter``. A Lease left by an
    uninstalled Karpenter goes stale; a Deployment scaled to zero runs nothing. What this identity may not
    read (403) or the cluster does not serve (404) is no evidence either way."""
    try:
        deployments = (await client.list(DEPLOYMENT, label_selector=KARPENTER_APP_SELECTOR)).items
    except KubeAPIError as error:
        log.info("cannot list Deployments to look for Karpenter (%s); trying its Lease", error)
        deployments = []
    for deployment in deployments:
        if int((deployment.get("status") or {}).get("availableReplicas") or 0) > 0:
            metadata = deployment["metadata"]
            return f"Deployment {metadata.get('namespace')}/{metadata['name']} is available"
    for namespace in KARPENTER_NAMESPACES:
        try:
            lease = await client.get(LEASE, KARPENTER_LEASE, namespace)
        except KubeAPIError as error:
            if error.not_found or error.code in (401, 403):
                continue
            raise
        if _lease_is_live(lease, clock):
            holder = (lease.get("spec") or {}).get("holderIdentity")
            return f"Lease {namespace}/{KARPENTER_LEASE} is held by {holder} and renewed"
    return None


def _lease_is_live(lease: dict[str, Any], clock: Clock) -> bool:
    spec = lease.get("spec") or {}
    renewed = parse_timestamp(spec.get("renewTime"))
    if not spec.get("holderIdentity") or renewed is None:
        return False
    window = max(STALE_LEASE_SECONDS, 4.0 * float(spec.get("leaseDurationSeconds") or 15))
    return clock.wall() - renewed <= window


async def resolve_mode(client: ClusterClient, requested: ComputeMode | str, clock: Clock) -> ComputeMode:
    """``requested`` with ``auto`` decided; an explicit ``infleet`` beside a running Karpenter is obeyed,
    with a warning, since both would provision for the same pods."""
    mode = ComputeMode(requested)
    evidence = await detect_karpenter(client, clock) if mode is not ComputeMode.KARPENTER else None
    if mode is ComputeMode.AUTO:
        chosen = ComputeMode.KARPENTER if evidence else ComputeMode.INFLEET
        log.info(
            "compute mode auto in %s: %s (%s)",
            client.name,
            chosen.value,
            evidence or "no running Karpenter found",
        )
        return chosen
    if mode is ComputeMode.INFLEET and evidence:
        log.warning(
            "compute mode infleet in %s, but Karpenter runs there (%s): both may provision for the same "
            "pods; use --mode karpenter (or auto) unless Karpenter serves only other pools",
            client.name,
            evidence,
        )
    return mode
