"""KubeFleet's apply order: manifests go out in waves, so what others depend on exists first.

Namespaces first; then configuration, storage, CRDs and service accounts; roles; role bindings; services
and workloads; webhooks; kinds this table does not know (custom resources such as ModelDeployment) last.
Within a wave the applier writes in parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_WAVES: tuple[tuple[tuple[str, str], ...], ...] = (
    (("", "Namespace"), ("scheduling.k8s.io", "PriorityClass")),
    (
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "LimitRange"),
        ("", "ResourceQuota"),
        ("storage.k8s.io", "StorageClass"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("policy", "PodDisruptionBudget"),
    ),
    (("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "Role")),
    (("rbac.authorization.k8s.io", "ClusterRoleBinding"), ("rbac.authorization.k8s.io", "RoleBinding")),
    (
        ("", "Service"),
        ("", "Pod"),
        ("", "ReplicationController"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("networking.k8s.io", "Ingress"),
        ("apiregistration.k8s.io", "APIService"),
    ),
    (
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ),
)
_WAVE_OF = {key: wave for wave, keys in enumerate(_WAVES) for key in keys}
UNKNOWN_WAVE = len(_WAVES)


def wave_of(group: str, kind: str) -> int:
    """The wave of a kind (by API group and kind; the version does not matter)."""
    return _WAVE_OF.get((group, kind), UNKNOWN_WAVE)


def in_waves(items: Iterable[T], key: Callable[[T], tuple[str, str]]) -> list[list[T]]:
    """``items`` grouped by wave, in apply order; each wave keeps the items' own order."""
    waves: dict[int, list[T]] = {}
    for item in items:
        waves.setdefault(wave_of(*key(item)), []).append(item)
    return [waves[wave] for wave in sorted(waves)]
