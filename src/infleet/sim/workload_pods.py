"""Pods made from a workload's template: the template hash, readiness, and the Pod body to create.

Shared by the Deployment, ReplicaSet and StatefulSet controllers. The hash is stable across processes
(FNV-1a of the canonical JSON), as ``pod-template-hash`` and ``controller-revision-hash`` must be.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from infleet.kube.conditions import is_true
from infleet.kube.owner_references import set_controller_reference

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the k8s "safe" encoding drops vowels and look-alikes


def template_hash(template: dict[str, Any]) -> str:
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    text = ""
    for _ in range(10):
        value, digit = divmod(value, len(_ALPHABET))
        text += _ALPHABET[digit]
    return text


def is_ready(pod: dict[str, Any]) -> bool:
    return is_true((pod.get("status") or {}).get("conditions"), "Ready")


def is_terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_from_template(
    owner: dict[str, Any],
    template: dict[str, Any],
    labels: dict[str, str],
    name: str | None = None,
    generate_name: str | None = None,
) -> dict[str, Any]:
    """A Pod for ``owner`` (its controller) from ``template`` with extra ``labels``."""
    template_meta = template.get("metadata") or {}
    metadata: dict[str, Any] = {
        "namespace": owner["metadata"]["namespace"],
        "labels": {**(template_meta.get("labels") or {}), **labels},
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = generate_name
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
    set_controller_reference(owner, pod)
    return pod


def resolve_int_or_percent(value: Any, total: int, round_up: bool, default: str) -> int:
    """maxSurge / maxUnavailable: an integer, or a percentage of ``total``."""
    text = str(default if value is None else value)
    if text.endswith("%"):
        fraction = int(text[:-1]) * total
        return -(-fraction // 100) if round_up else fraction // 100
    return int(text)
