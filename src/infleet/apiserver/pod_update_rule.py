"""What an update of a Pod may change, as kube-apiserver's pod update validation allows it.

A pod's spec is fixed once created but for container images, a shorter ``activeDeadlineSeconds``,
added tolerations (and their ``tolerationSeconds``), removed scheduling gates and a negative
``terminationGracePeriodSeconds`` set to 1. ``spec.nodeName`` is set through ``pods/binding`` only,
which is not an update. Called by :mod:`builtin_update_rules` with the object to store and the stored one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from infleet.apiserver.errors import Cause

MUTABLE_FIELDS_MESSAGE = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
    "previously negative)"
)
_TOLERATION_CHANGED = "Forbidden: existing toleration can not be modified except its tolerationSeconds"
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def pod_update_causes(obj: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Why ``obj`` may not replace the stored pod ``old`` (empty when it may)."""
    spec = _mapping(obj.get("spec"))
    old_spec = _mapping(old.get("spec"))
    causes: list[Cause] = []
    for name in ("containers", "initContainers"):
        if len(spec.get(name) or []) != len(old_spec.get(name) or []):
            causes.append(
                Cause(
                    "FieldValueForbidden",
                    "Forbidden: pod updates may not add or remove containers",
                    f"spec.{name}",
                )
            )
    if causes:
        return causes
    causes += _deadline_causes(spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds"))
    causes += _toleration_causes(spec.get("tolerations") or [], old_spec.get("tolerations") or [])
    munged = _munged(spec, old_spec)
    if _semantic(munged) != _semantic(old_spec):
        changed = ", ".join(f"spec.{name}" for name in _changed_fields(munged, old_spec))
        causes.append(Cause("FieldValueForbidden", f"{MUTABLE_FIELDS_MESSAGE}\n  changed: {changed}", "spec"))
    return causes


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _munged(spec: Mapping[str, Any], old_spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` with every field an update may change set back to its stored value."""
    munged = copy.deepcopy(dict(spec))
    for name in _CONTAINER_LISTS:
        containers, old_containers = munged.get(name) or [], old_spec.get(name) or []
        for container, old_container in zip(containers, old_containers, strict=False):
            if isinstance(container, dict) and isinstance(old_container, Mapping):
                container["image"] = old_container.get("image")
    for name in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if name in old_spec:
            munged[name] = copy.deepcopy(old_spec[name])
        else:
            munged.pop(name, None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _deadline_causes(new: Any, old: Any) -> list[Cause]:
    if old is None:
        return []
    if new is None:
        message = 'Invalid value: "null": must not update from a positive integer to nil value'
        return [Cause("FieldValueInvalid", message, "spec.activeDeadlineSeconds")]
    if isinstance(new, int) and isinstance(old, int) and new > old:
        message = f"Invalid value: {new}: must be less than or equal to previous value"
        return [Cause("FieldValueInvalid", message, "spec.activeDeadlineSeconds")]
    return []


def _toleration_causes(new: list[Any], old: list[Any]) -> list[Cause]:
    """Every stored toleration must still be there, its ``tolerationSeconds`` aside."""

    def key(toleration: Any) -> Any:
        rest = {k: v for k, v in _mapping(toleration).items() if k != "tolerationSeconds"}
        return _semantic(rest)

    remaining = [key(t) for t in new]
    if all(key(t) in remaining for t in old):
        return []
    return [Cause("FieldValueForbidden", _TOLERATION_CHANGED, "spec.tolerations")]


def _semantic(value: Any) -> Any:
    """``value`` without null, empty map and empty list members: kube compares specs as Go structs,
    where those and a missing field are equal."""
    if isinstance(value, Mapping):
        pruned = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def _changed_fields(spec: Mapping[str, Any], old_spec: Mapping[str, Any]) -> list[str]:
    new, old = _semantic(spec), _semantic(old_spec)
    return sorted(name for name in {*new, *old} if new.get(name) != old.get(name))
