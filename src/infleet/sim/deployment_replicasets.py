"""A Deployment's ReplicaSets as kube-controller-manager keeps them: which one is new, revisions, the
annotations each carries, and the body of a new one.

The new ReplicaSet is the one whose pod template equals the Deployment's but for the ``pod-template-hash``
label; it is named ``<deployment>-<hash>`` and that label is added to its selector, template and labels
so its pods are told apart from its siblings'. ``kubectl rollout history`` lists the sets by
``deployment.kubernetes.io/revision`` and ``kubectl rollout undo`` copies an old set's template and
annotations back into the Deployment.
"""

from __future__ import annotations

import copy
from typing import Any

from infleet.api.labels import (
    DESIRED_REPLICAS_ANNOTATION,
    KUBECTL_LAST_APPLIED_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
)
from infleet.kube.owner_references import set_controller_reference
from infleet.sim.workload_pods import template_hash

# Never copied from a Deployment to its ReplicaSets (kubectl skips the same ones on undo).
_NOT_COPIED = frozenset(
    {
        KUBECTL_LAST_APPLIED_ANNOTATION,
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
        "deprecated.deployment.rollback.to",
    }
)

ReplicaSet = dict[str, Any]


def revision(replicaset: ReplicaSet) -> int:
    text = ((replicaset.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION, "0")
    return int(text) if str(text).isdigit() else 0


def replicas_of(replicaset: ReplicaSet) -> int:
    return int((replicaset.get("spec") or {}).get("replicas", 1))


def status_count(replicaset: ReplicaSet, field: str) -> int:
    return int((replicaset.get("status") or {}).get(field) or 0)


def _pruned(value: Any) -> Any:
    """``value`` without null, ``{}`` and ``[]`` members: kube compares templates as Go structs, where an
    empty map, an empty list and a missing field are the same (kubectl's ``rollout undo`` sends
    ``creationTimestamp: null`` and drops an empty ``annotations``)."""
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    stripped: dict[str, Any] = _pruned(template)
    labels = (stripped.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    pruned: dict[str, Any] = _pruned(stripped)  # pruned again: the hash may have been the only label
    return pruned


def pod_template_hash(template: dict[str, Any]) -> str:
    """The ``pod-template-hash`` of a Deployment's template: equal templates (as compared above) hash
    the same."""
    return template_hash(_without_hash(template))


def equal_ignoring_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _without_hash(a) == _without_hash(b)


def age(replicaset: ReplicaSet) -> tuple[str, int, str]:
    """Sorts ReplicaSets oldest first: timestamps have whole seconds, so the revision breaks ties."""
    metadata = replicaset["metadata"]
    return (str(metadata.get("creationTimestamp", "")), revision(replicaset), str(metadata["name"]))


def split_new_and_old(
    deployment: dict[str, Any], replicasets: list[ReplicaSet]
) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
    """The new ReplicaSet (the oldest whose template matches, as kube picks) and all the others."""
    template = (deployment.get("spec") or {}).get("template") or {}
    ordered = sorted(replicasets, key=age)
    new = next(
        (rs for rs in ordered if equal_ignoring_hash((rs.get("spec") or {}).get("template") or {}, template)),
        None,
    )
    return new, [rs for rs in ordered if rs is not new]


def copied_annotations(deployment: dict[str, Any]) -> dict[str, str]:
    """The Deployment's annotations a ReplicaSet carries (``kubernetes.io/change-cause`` among them)."""
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in _NOT_COPIED}


def replica_annotations(replicas: int, max_replicas: int) -> dict[str, str]:
    return {DESIRED_REPLICAS_ANNOTATION: str(replicas), MAX_REPLICAS_ANNOTATION: str(max_replicas)}


def new_replicaset(deployment: dict[str, Any], replicas: int, annotations: dict[str, str]) -> ReplicaSet:
    """The body of the Deployment's new ReplicaSet, ``replicas`` strong."""
    spec = deployment.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    pod_hash = pod_template_hash(template)
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), POD_TEMPLATE_HASH_LABEL: pod_hash}
    selector = copy.deepcopy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH_LABEL: pod_hash}
    metadata = deployment["metadata"]
    body: ReplicaSet = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{metadata['name']}-{pod_hash}",
            "namespace": metadata["namespace"],
            "labels": dict(template_meta["labels"]),
            "annotations": annotations,
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": int(spec.get("minReadySeconds") or 0),
            "selector": selector,
            "template": template,
        },
    }
    set_controller_reference(deployment, body)
    return body


def history_to_delete(old: list[ReplicaSet], limit: int) -> list[ReplicaSet]:
    """Old ReplicaSets past ``revisionHistoryLimit``: the oldest revisions among those scaled to zero
    with no pods left."""
    idle = [
        rs
        for rs in old
        if replicas_of(rs) == 0
        and status_count(rs, "replicas") == 0
        and not rs["metadata"].get("deletionTimestamp")
    ]
    surplus = len(idle) - limit
    if surplus <= 0:
        return []
    return sorted(idle, key=lambda rs: (revision(rs), rs["metadata"].get("creationTimestamp", "")))[:surplus]
