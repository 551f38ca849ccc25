"""What an update of a built-in kind may not change, as kube-apiserver's update validation says it.

``admission`` calls :func:`update_causes` with the object an update would store and the one stored
now (both in the storage version, after defaulting); each rule returns kube-apiserver's field path and
wording, so ``kubectl apply`` prints the same 422 as against a real cluster.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from infleet.apiserver.errors import Cause
from infleet.apiserver.pod_update_rule import pod_update_causes

Rule = Callable[[Mapping[str, Any], Mapping[str, Any]], list[Cause]]

_STATEFULSET_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
_IMMUTABLE_WHEN_SET = "Forbidden: field is immutable when `immutable` is set"


def update_causes(group: str, kind: str, obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Why replacing ``old`` with ``obj`` is not allowed (empty when it is)."""
    rule = _RULES.get((group, kind))
    return rule(obj, old) if rule is not None else []


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _render(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _immutable(path: str, new: Any, old: Any) -> list[Cause]:
    if new == old:
        return []
    return [Cause("FieldValueInvalid", f"Invalid value: {_render(new)}: field is immutable", path)]


def _selector_immutable(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """apps/v1 workloads keep the selector they were created with."""
    return _immutable("spec.selector", _spec(obj).get("selector"), _spec(old).get("selector"))


def _statefulset(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    new_rest = {k: v for k, v in _spec(obj).items() if k not in _STATEFULSET_MUTABLE}
    old_rest = {k: v for k, v in _spec(old).items() if k not in _STATEFULSET_MUTABLE}
    if new_rest == old_rest:
        return []
    allowed = ", ".join(f"'{name}'" for name in _STATEFULSET_MUTABLE[:-1])
    message = (
        f"Forbidden: updates to statefulset spec for fields other than {allowed} and "
        f"'{_STATEFULSET_MUTABLE[-1]}' are forbidden"
    )
    return [Cause("FieldValueForbidden", message, "spec")]


def _job(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    spec, old_spec = _spec(obj), _spec(old)
    causes = _immutable("spec.selector", spec.get("selector"), old_spec.get("selector"))
    causes += _immutable("spec.template", spec.get("template"), old_spec.get("template"))
    for field in ("completions", "completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
        causes += _immutable(f"spec.{field}", spec.get(field), old_spec.get(field))
    return causes


def _service(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """A Service's cluster IP may not change once allocated (nor be dropped, unless it becomes an
    ExternalName)."""
    spec, old_spec = _spec(obj), _spec(old)
    old_ip = old_spec.get("clusterIP")
    if old_ip in (None, "") or spec.get("type") == "ExternalName":
        return []
    new_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    if spec.get("clusterIP") == old_ip and (not new_ips or new_ips[0] == old_ip):
        return []
    if spec.get("clusterIP") not in (None, "", old_ip):
        new_ips = [spec["clusterIP"], *new_ips[1:]]
    shown = ", ".join(f'"{ip}"' for ip in new_ips)
    return [
        Cause(
            "FieldValueInvalid",
            f"Invalid value: []string{{{shown}}}: may not change once set",
            "spec.clusterIPs[0]",
        )
    ]


def _immutable_data(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """ConfigMaps and Secrets marked ``immutable: true`` keep their data and the mark itself."""
    if old.get("immutable") is not True:
        return []
    causes = []
    if obj.get("immutable") is not True:
        causes.append(Cause("FieldValueForbidden", _IMMUTABLE_WHEN_SET, "immutable"))
    for field in ("data", "binaryData"):
        if (obj.get(field) or {}) != (old.get(field) or {}):
            causes.append(Cause("FieldValueForbidden", _IMMUTABLE_WHEN_SET, field))
    return causes


def _secret(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    causes = _immutable("type", obj.get("type"), old.get("type"))
    return causes + _immutable_data(obj, old)


def _persistent_volume_claim(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Only the requested size (and the attributes class) may change; a binder may set volumeName."""

    def comparable(spec: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in spec.items() if k not in ("resources", "volumeAttributesClassName")}
        if not other.get("volumeName"):
            rest.pop("volumeName", None)
        resources = dict(spec.get("resources") or {})
        resources.pop("requests", None)
        return {**rest, "resources": resources}

    spec, old_spec = _spec(obj), _spec(old)
    if comparable(spec, old_spec) == comparable(old_spec, old_spec):
        return []
    message = (
        "Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims"
    )
    return [Cause("FieldValueForbidden", message, "spec")]


def _role_binding(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    if obj.get("roleRef") == old.get("roleRef"):
        return []
    return [
        Cause(
            "FieldValueInvalid",
            f"Invalid value: {_render(obj.get('roleRef'))}: cannot change roleRef",
            "roleRef",
        )
    ]


_RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): _selector_immutable,
    ("apps", "ReplicaSet"): _selector_immutable,
    ("apps", "DaemonSet"): _selector_immutable,
    ("apps", "StatefulSet"): _statefulset,
    ("batch", "Job"): _job,
    ("", "Pod"): pod_update_causes,
    ("", "Service"): _service,
    ("", "ConfigMap"): _immutable_data,
    ("", "Secret"): _secret,
    ("", "PersistentVolumeClaim"): _persistent_volume_claim,
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_binding,
}
