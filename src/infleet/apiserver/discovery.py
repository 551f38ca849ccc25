"""API discovery documents, legacy (``/api``, ``/apis``, ``/apis/g/v``) and aggregated (v2).

kubectl asks for the aggregated form and falls back to the legacy one; kopf uses only the legacy one.
Both are computed from the cluster's :class:`ResourceIndex`, so a new CRD shows up at once.
"""

from __future__ import annotations

import re
from typing import Any

from infleet.apiserver.resources import ResourceIndex, ResourceType

AGGREGATED_MEDIA_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting the preferred version first: GA > beta > alpha, higher numbers first."""
    match = _VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


def _subresource_entries(resource: ResourceType) -> list[dict[str, Any]]:
    entries = []
    if resource.has_status:
        entries.append(
            {
                "name": f"{resource.plural}/status",
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    if resource.scale is not None:
        entries.append(
            {
                "name": f"{resource.plural}/scale",
                "singularName": "",
                "namespaced": resource.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }
        )
    for sub in resource.extra_subresources:
        kind, verbs = _EXTRA_SUBRESOURCES.get(sub, ("Binding", ["create"]))
        entry: dict[str, Any] = {
            "name": f"{resource.plural}/{sub}",
            "singularName": "",
            "namespaced": resource.namespaced,
            "kind": kind,
            "verbs": verbs,
        }
        if sub in _OTHER_GROUP_SUBRESOURCES:
            # kubectl drain evicts only where pods/eviction names its group and version.
            entry["group"], entry["version"] = _OTHER_GROUP_SUBRESOURCES[sub]
        entries.append(entry)
    return entries


# kube-apiserver's kinds and verbs for the pod subresources served besides status.
_EXTRA_SUBRESOURCES = {
    "log": ("Pod", ["get"]),
    "binding": ("Binding", ["create"]),
    "exec": ("PodExecOptions", ["create", "get"]),
    "attach": ("PodAttachOptions", ["create", "get"]),
    "portforward": ("PodPortForwardOptions", ["create", "get"]),
    "eviction": ("Eviction", ["create"]),
}
_OTHER_GROUP_SUBRESOURCES = {"eviction": ("policy", "v1")}


def resource_list(index: ResourceIndex, group: str, version: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for resource in index.all():
        if resource.group != group or resource.version != version:
            continue
        entry: dict[str, Any] = {
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(resource.verbs),
        }
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        if resource.categories:
            entry["categories"] = list(resource.categories)
        resources.append(entry)
        resources.extend(_subresource_entries(resource))
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    ordered = sorted(versions, key=version_priority)
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(index: ResourceIndex) -> dict[str, Any]:
    groups = [_group_entry(g, v) for g, v in index.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(index: ResourceIndex, group: str) -> dict[str, Any] | None:
    versions = index.group_versions().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _aggregated_resource(resource: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    subresources = []
    if resource.has_status:
        subresources.append(
            {
                "subresource": "status",
                "verbs": ["get", "patch", "update"],
                "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
            }
        )
    if resource.scale is not None:
        subresources.append(
            {
                "subresource": "scale",
                "verbs": ["get", "patch", "update"],
                "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            }
        )
    for sub in resource.extra_subresources:
        kind, verbs = _EXTRA_SUBRESOURCES.get(sub, ("Binding", ["create"]))
        group, version = _OTHER_GROUP_SUBRESOURCES.get(sub, (resource.group, resource.version))
        subresources.append(
            {
                "subresource": sub,
                "verbs": verbs,
                "responseKind": {"group": group, "version": version, "kind": kind},
            }
        )
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated(index: ResourceIndex, core: bool) -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` for ``/api`` (core only) or ``/apis`` (every other group)."""
    items = []
    for group, versions in index.group_versions().items():
        if (group == "") != core:
            continue
        version_entries = []
        for version in sorted(versions, key=version_priority):
            resources = [
                _aggregated_resource(r) for r in index.all() if r.group == group and r.version == version
            ]
            version_entries.append({"version": version, "freshness": "Current", "resources": resources})
        items.append({"metadata": {"name": group}, "versions": version_entries})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
