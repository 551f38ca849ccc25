"""What the compute layer asks of a pod: the node it is bound to, whether a DaemonSet owns it, whether it
has ended, is Ready, is a model replica still loading its weights, or must not be disrupted.
Termination's drain and the disruption loop both read pods through these.
"""

from __future__ import annotations

from typing import Any

from infleet.api.labels import DO_NOT_DISRUPT_ANNOTATION, MODEL_DEPLOYMENT_LABEL

Pod = dict[str, Any]


def node_of(pod: Pod) -> str | None:
    return (pod.get("spec") or {}).get("nodeName") or None


def labels(pod: Pod) -> dict[str, str]:
    return (pod.get("metadata") or {}).get("labels") or {}


def is_daemon(pod: Pod) -> bool:
    """Owned by a DaemonSet: it comes back on whatever node exists, so draining it is pointless."""
    refs = (pod.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("kind") == "DaemonSet" and ref.get("controller") for ref in refs)


def is_terminal(pod: Pod) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_terminating(pod: Pod) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_ready(pod: Pod) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def is_active(pod: Pod) -> bool:
    """Holds resources on its node: bound and not yet ended."""
    return node_of(pod) is not None and not is_terminal(pod)


def is_pending(pod: Pod) -> bool:
    """Waiting for a node: not bound, not ended, not going away."""
    return node_of(pod) is None and not is_terminal(pod) and not is_terminating(pod)


def is_reschedulable(pod: Pod) -> bool:
    """A pod that moves when its node goes (what makes a node non-empty): active and not a daemon."""
    return is_active(pod) and not is_daemon(pod) and not is_terminating(pod)


def model_deployment(pod: Pod) -> str | None:
    """``namespace/name`` of the ModelDeployment the pod serves, if it is a model replica."""
    name = labels(pod).get(MODEL_DEPLOYMENT_LABEL)
    if not name:
        return None
    return f"{(pod.get('metadata') or {}).get('namespace') or 'default'}/{name}"


def is_loading_model(pod: Pod) -> bool:
    """A model replica bound to its node but not Ready yet: weights are loading, often for many minutes,
    and evicting it throws that work away (the cost Karpenter's consolidation does not see)."""
    return (
        model_deployment(pod) is not None and is_active(pod) and not is_terminating(pod) and not is_ready(pod)
    )


def do_not_disrupt(obj: dict[str, Any]) -> bool:
    """``karpenter.sh/do-not-disrupt: "true"`` on a pod or a node."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DO_NOT_DISRUPT_ANNOTATION) == "true"
