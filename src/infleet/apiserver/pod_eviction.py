"""The ``pods/eviction`` subresource: POST a policy/v1 ``Eviction`` to delete a pod as its budget allows.

As kube-apiserver does: a pod that is Pending, has ended or is already terminating goes without a
budget check; a pod selected by no PodDisruptionBudget goes; a pod selected by more than one is refused
(500, as kube refuses it); otherwise the budget must allow a disruption, or the answer is 429
TooManyRequests with a ``DisruptionBudget`` cause naming the budget and its healthy counts, which
``kubectl drain`` retries. An unready pod goes while the budget is met (``IfHealthyBudget``) or always
(``unhealthyPodEvictionPolicy: AlwaysAllow``). An evicted pod gets the ``DisruptionTarget`` condition and
is deleted gracefully with the Eviction's ``deleteOptions``; the answer is 201 and a Status Success.

kube-apiserver reads the budget's status, kept by kube-controller-manager's disruption controller; this
server computes the same status from the pods it stores at the time of the request
(:mod:`infleet.api.disruption_budgets`), so it never answers from a stale status and works on clusters
with no controllers. Evictions of one cluster are serialised, so two cannot spend one disruption.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from infleet.api.disruption_budgets import ReplicasOf, budget_status, is_ready, is_terminal, selects
from infleet.apiserver.body_decoding import decode_body
from infleet.apiserver.cluster import Cluster
from infleet.apiserver.deletion import DeleteOptions
from infleet.apiserver.errors import (
    Cause,
    StatusError,
    bad_request,
    conflict,
    internal_error,
    method_not_allowed,
)
from infleet.apiserver.protobuf_bodies import PROTOBUF_MEDIA_TYPE, decode_protobuf_body
from infleet.apiserver.write_rules import WriteOptions

MAX_BODY_BYTES = 1024 * 1024
REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
_EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")
# Where the controllers whose scale a budget counts are stored, by ownerReference kind.
_SCALED_KINDS = {
    "Deployment": "deployments.apps",
    "StatefulSet": "statefulsets.apps",
    "ReplicaSet": "replicasets.apps",
    "ReplicationController": "replicationcontrollers",
}
_locks: weakref.WeakKeyDictionary[Cluster, asyncio.Lock] = weakref.WeakKeyDictionary()


async def handle(cluster: Cluster, namespace: str, name: str, request: Request) -> Response:
    if request.method != "POST":
        raise method_not_allowed(f"{request.method} is not supported on pods/eviction; POST an Eviction")
    eviction = await _eviction_body(request)
    meta = eviction.get("metadata") or {}
    if meta.get("name", name) != name:
        raise bad_request("name in URL does not match name in Eviction object")
    if meta.get("namespace", namespace) != namespace:
        raise bad_request("namespace in URL does not match namespace in Eviction object")
    delete_body = eviction.get("deleteOptions")
    if delete_body is not None and not isinstance(delete_body, Mapping):
        raise bad_request("Eviction.deleteOptions must be an object (DeleteOptions)")
    options = DeleteOptions.parse(delete_body, request.query_params)
    lock = _locks.setdefault(cluster, asyncio.Lock())
    async with lock:
        pods = cluster.resource("", "v1", "pods")
        pod = cluster.get(pods, namespace, name)
        if options.precondition_uid and options.precondition_uid != pod["metadata"].get("uid"):
            # Checked before the budget and the DisruptionTarget condition: a pod recreated under the
            # same name is neither charged to a budget nor marked for the one the caller meant.
            raise conflict("pods", name, detail="Precondition failed: UID in precondition does not match")
        if not _can_ignore_budget(pod):
            _check_budget(cluster, pod)
        if not options.dry_run and not is_terminal(pod) and not pod["metadata"].get("deletionTimestamp"):
            await cluster.patch(
                pods,
                namespace,
                name,
                _add_disruption_target(cluster.now()),
                WriteOptions(field_manager="kube-apiserver"),
                "status",
            )
        await cluster.delete(pods, namespace, name, options)
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    return Response(orjson.dumps(status), status_code=201, media_type="application/json")


async def _eviction_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise StatusError(413, "RequestEntityTooLarge", f"the Eviction is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise bad_request("the request body is empty: POST a policy/v1 Eviction")
    media_type = request.headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
    if media_type == PROTOBUF_MEDIA_TYPE:
        body = decode_protobuf_body(raw, "policy/v1", "Eviction").value
    else:
        body = decode_body(raw, "application/json", what="the Eviction").value
    if not isinstance(body, dict):
        raise bad_request("the request body must be a policy/v1 Eviction object")
    if (
        body.get("kind", "Eviction") != "Eviction"
        or body.get("apiVersion", "policy/v1") not in _EVICTION_VERSIONS
    ):
        raise bad_request(
            f"pods/eviction takes a policy/v1 Eviction, not {body.get('apiVersion')}/{body.get('kind')}"
        )
    return body


def _can_ignore_budget(pod: Mapping[str, Any]) -> bool:
    """Pods that never ran, have ended or are already going disrupt nothing a budget protects."""
    phase = (pod.get("status") or {}).get("phase", "Pending")
    return phase in ("Pending", "Succeeded", "Failed") or bool(pod["metadata"].get("deletionTimestamp"))


def _check_budget(cluster: Cluster, pod: dict[str, Any]) -> None:
    namespace = pod["metadata"]["namespace"]
    budgets = [
        pdb for pdb in cluster.store.items("poddisruptionbudgets.policy", namespace) if selects(pdb, pod)
    ]
    if not budgets:
        return
    if len(budgets) > 1:
        raise internal_error(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
        )
    pdb = budgets[0]
    status = budget_status(pdb, list(cluster.store.items("pods", namespace)), _replicas_lookup(cluster))
    policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
    if not is_ready(pod) and (
        policy == "AlwaysAllow" or 0 < status.desired_healthy <= status.current_healthy
    ):
        return
    if status.disruptions_allowed > 0:
        return
    budget_name = pdb["metadata"]["name"]
    message = (
        f"The disruption budget {budget_name} needs {status.desired_healthy} healthy pods "
        f"and has {status.current_healthy} currently"
    )
    raise StatusError(429, "TooManyRequests", REFUSED, causes=[Cause("DisruptionBudget", message)])


def _replicas_lookup(cluster: Cluster) -> ReplicasOf:
    def replicas_of(namespace: str, owner: Mapping[str, Any]) -> int | None:
        storage_key = _SCALED_KINDS.get(str(owner.get("kind")))
        controller = (
            cluster.store.get(storage_key, namespace, str(owner.get("name"))) if storage_key else None
        )
        if controller is None or controller["metadata"].get("uid") != owner.get("uid"):
            return None
        return int((controller.get("spec") or {}).get("replicas", 1))

    return replicas_of


def _add_disruption_target(now: str) -> Any:
    """The condition kube-apiserver sets on a pod it evicts, before deleting it."""

    def mutate(current: dict[str, Any] | None) -> dict[str, Any]:
        assert current is not None
        conditions = [
            c
            for c in (current.setdefault("status", {}).get("conditions") or [])
            if c.get("type") != "DisruptionTarget"
        ]
        conditions.append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "EvictionByEvictionAPI",
                "message": "Eviction API: evicting",
                "lastTransitionTime": now,
            }
        )
        current["status"]["conditions"] = conditions
        return current

    return mutate
