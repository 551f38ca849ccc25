"""ObjectMeta rules kube-apiserver enforces on every write: names, server-owned fields, generation.

Called by the write path in ``cluster`` before admission; raises or returns :class:`Cause` lists.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from infleet.apiserver.errors import Cause

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Kinds whose names Kubernetes validates as path segments rather than DNS subdomains.
_PATH_SEGMENT_NAMED = frozenset({"Event", "Endpoints"})
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# Fields only the server writes; a client's values are replaced on create and kept from storage on update.
SERVER_OWNED = ("uid", "creationTimestamp", "resourceVersion", "generation", "deletionTimestamp")

KNOWN_METADATA_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with whole seconds and a ``Z`` suffix, as Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generated_name(prefix: str, random: secrets.SystemRandom | None = None) -> str:
    chooser = random or secrets.SystemRandom()
    return prefix + "".join(chooser.choice(_GENERATE_ALPHABET) for _ in range(5))


def name_causes(kind: str, name: str) -> list[Cause]:
    """Why ``name`` is not a valid name for ``kind`` (empty when it is)."""
    if not name:
        return [Cause("FieldValueRequired", "name or generateName is required", "metadata.name")]
    if kind == "Namespace":
        if len(name) > 63 or not _DNS1123_LABEL.match(name):
            return [
                Cause(
                    "FieldValueInvalid",
                    f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower case '
                    "alphanumeric characters or '-', start and end with an alphanumeric character, "
                    "and be at most 63 characters",
                    "metadata.name",
                )
            ]
        return []
    if kind in _PATH_SEGMENT_NAMED:
        if name in (".", "..") or "/" in name or "%" in name:
            return [
                Cause(
                    "FieldValueInvalid",
                    f'Invalid value: "{name}": may not contain "/" or "%"',
                    "metadata.name",
                )
            ]
        return []
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        return [
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                "character (e.g. 'example.com'), at most 253 characters",
                "metadata.name",
            )
        ]
    return []


def metadata_causes(metadata: Mapping[str, Any]) -> list[Cause]:  # noqa: C901
    """Type checks on the parts of ObjectMeta clients commonly get wrong."""
    causes = []
    for field in ("labels", "annotations"):
        value = metadata.get(field)
        if value is None:
            continue
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    "must be a map of string keys to string values",
                    f"metadata.{field}",
                )
            )
    labels = metadata.get("labels")
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            if isinstance(value, str) and (
                len(value) > 63 or not re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", value)
            ):
                causes.append(
                    Cause(
                        "FieldValueInvalid",
                        f'Invalid value: "{value}": not a valid label value',
                        f"metadata.labels.{key}",
                    )
                )
    finalizers = metadata.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        causes.append(Cause("FieldValueTypeInvalid", "must be a list of strings", "metadata.finalizers"))
    owners = metadata.get("ownerReferences")
    if owners is not None:
        if not isinstance(owners, list):
            causes.append(Cause("FieldValueTypeInvalid", "must be a list", "metadata.ownerReferences"))
        else:
            for index, owner in enumerate(owners):
                for required in ("apiVersion", "kind", "name", "uid"):
                    if not isinstance(owner, Mapping) or not owner.get(required):
                        causes.append(
                            Cause(
                                "FieldValueRequired",
                                "Required value",
                                f"metadata.ownerReferences[{index}].{required}",
                            )
                        )
    return causes


def desired_state(obj: Mapping[str, Any], has_status: bool) -> dict[str, Any]:
    """The part of an object whose change bumps ``metadata.generation``."""
    skipped = {"metadata", "status"} if has_status else {"metadata"}
    return {key: value for key, value in obj.items() if key not in skipped}
