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
_QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_MAX_ANNOTATIONS_BYTES = 256 * 1024
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


def metadata_causes(metadata: Mapping[str, Any]) -> list[Cause]:
    """ObjectMeta rules kube-apiserver applies to every object: label and annotation keys and values,
    finalizers and owner references."""
    causes: list[Cause] = []
    for field in ("labels", "annotations"):
        causes += _string_map_causes(metadata.get(field), f"metadata.{field}")
    labels = metadata.get("labels")
    if isinstance(labels, Mapping):
        causes += [cause for key, value in labels.items() for cause in _label_value_causes(key, value)]
    annotations = metadata.get("annotations")
    if isinstance(annotations, Mapping):
        size = sum(len(str(key)) + len(str(value)) for key, value in annotations.items())
        if size > _MAX_ANNOTATIONS_BYTES:
            causes.append(
                Cause(
                    "FieldValueTooLong",
                    f"Too long: may not be more than {_MAX_ANNOTATIONS_BYTES} bytes",
                    "metadata.annotations",
                )
            )
    finalizers = metadata.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        causes.append(Cause("FieldValueTypeInvalid", "must be a list of strings", "metadata.finalizers"))
    return causes + _owner_causes(metadata.get("ownerReferences"))


def _string_map_causes(value: Any, path: str) -> list[Cause]:
    if value is None:
        return []
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return [Cause("FieldValueTypeInvalid", "must be a map of string keys to string values", path)]
    return [cause for key in value for cause in qualified_name_causes(key, path)]


def qualified_name_causes(key: str, path: str) -> list[Cause]:
    """A label or annotation key: an optional DNS subdomain prefix and ``/``, then a name of at most 63
    characters of alphanumerics, ``-``, ``_`` and ``.`` that starts and ends alphanumeric."""
    prefix, slash, name = key.rpartition("/")
    problems = []
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        problems.append("prefix part must be a lowercase RFC 1123 subdomain (e.g. 'example.com')")
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        problems.append(
            "name part must consist of at most 63 alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')"
        )
    if "/" in prefix:
        problems = ["a qualified name must have at most one '/'"]
    return (
        [Cause("FieldValueInvalid", f'Invalid value: "{key}": {"; ".join(problems)}', path)]
        if problems
        else []
    )


def _label_value_causes(key: Any, value: Any) -> list[Cause]:
    if isinstance(value, str) and (len(value) > 63 or not _LABEL_VALUE.match(value)):
        return [
            Cause(
                "FieldValueInvalid",
                f'Invalid value: "{value}": a valid label value must be 63 characters or less, empty '
                "or start and end with an alphanumeric character, with '-', '_' or '.' between",
                f"metadata.labels.{key}",
            )
        ]
    return []


def _owner_causes(owners: Any) -> list[Cause]:
    if owners is None:
        return []
    if not isinstance(owners, list):
        return [Cause("FieldValueTypeInvalid", "must be a list", "metadata.ownerReferences")]
    return [
        Cause("FieldValueRequired", "Required value", f"metadata.ownerReferences[{index}].{required}")
        for index, owner in enumerate(owners)
        for required in ("apiVersion", "kind", "name", "uid")
        if not isinstance(owner, Mapping) or not owner.get(required)
    ]


def desired_state(obj: Mapping[str, Any], has_status: bool) -> dict[str, Any]:
    """The part of an object whose change bumps ``metadata.generation``."""
    skipped = {"metadata", "status"} if has_status else {"metadata"}
    return {key: value for key, value in obj.items() if key not in skipped}
