"""The labels the hub keeps on a MemberCluster: its own name (KubeFleet's member-name label), and the
region and cloud its agent reports as properties, mirrored so topology spread and label selectors can
use them. A label the user set is never touched; the annotation lists the ones the hub owns. Pure: the
membership controller sends the merge patch this returns.
"""

from __future__ import annotations

import re
from typing import Any

from infleet.api.fleet_properties import CLOUD, REGION
from infleet.api.labels import CLOUD_LABEL, MEMBER_NAME_LABEL, MIRRORED_LABELS_ANNOTATION, REGION_LABEL

#: (property, label) pairs the hub mirrors.
MIRRORED = ((REGION, REGION_LABEL), (CLOUD, CLOUD_LABEL))
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _mirrored(annotations: dict[str, str]) -> set[str]:
    return {key for key in (annotations.get(MIRRORED_LABELS_ANNOTATION) or "").split(",") if key}


def metadata_patch(member: dict[str, Any], properties: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``metadata`` merge patch that brings the hub's labels up to date, or None when they are."""
    metadata = member.get("metadata") or {}
    labels: dict[str, str] = metadata.get("labels") or {}
    annotations: dict[str, str] = metadata.get("annotations") or {}
    owned = _mirrored(annotations)
    changes: dict[str, str] = {}
    if labels.get(MEMBER_NAME_LABEL) != metadata["name"]:
        changes[MEMBER_NAME_LABEL] = metadata["name"]
    for prop, label in MIRRORED:
        if label in labels and label not in owned:
            continue  # the user's: their topology wins over what the agent reports
        value = str(((properties or {}).get(prop) or {}).get("value") or "")
        # A property that disappears leaves the last label in place: topology should not flap.
        if _LABEL_VALUE.match(value):
            owned.add(label)
            if labels.get(label) != value:
                changes[label] = value
    patch: dict[str, Any] = {}
    if changes:
        patch["labels"] = changes
    listed = ",".join(sorted(owned))
    if listed != (annotations.get(MIRRORED_LABELS_ANNOTATION) or ""):
        patch["annotations"] = {MIRRORED_LABELS_ANNOTATION: listed}
    return patch or None
