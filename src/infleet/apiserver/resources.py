"""Resource types: what the server knows about each kind it serves.

A :class:`ResourceType` is one served group/version/kind. Built-in kinds are declared in
``builtin_kinds``; custom resources get theirs from their CustomResourceDefinition (``crds``).
Several versions of one CRD share a single :attr:`ResourceType.storage_key`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infleet.apiserver.cel_rules import CompiledValidations
from infleet.apiserver.tables import ComputedColumn, PrinterColumn

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ScaleSubresource:
    """Where a kind keeps its replica counts (``subresources.scale`` of a CRD)."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str | None = None


@dataclass(frozen=True)
class ResourceType:
    """One served resource: a group/version/kind and how the server treats it."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    has_status: bool = True
    scale: ScaleSubresource | None = None
    columns: tuple[PrinterColumn | ComputedColumn, ...] = ()
    # Extra field-selector labels, e.g. "spec.nodeName", mapped to the JSONPath that reads them.
    selectable_fields: Mapping[str, str] = field(default_factory=dict)
    # A CRD's openAPIV3Schema for this version; built-ins validate against kubernetes-validate instead.
    schema: Mapping[str, Any] | None = None
    # The schema's x-kubernetes-validations, compiled once when the CRD is registered.
    validations: CompiledValidations | None = field(default=None, compare=False, repr=False)
    builtin: bool = True
    #: The CRD's resourceVersion when this type was registered from it (0 for built-ins).
    schema_version: int = 0
    # Kinds the server itself derives fields for, or that have extra subresources (pods/log).
    extra_subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage_key(self) -> str:
        """Objects of every version of a resource live under one key: ``plural.group``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass
class ResourceIndex:
    """The resource types one logical cluster serves, with lookups by URL and by kind."""

    by_path: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)

    def add(self, resource: ResourceType) -> None:
        self.by_path[(resource.group, resource.version, resource.plural)] = resource

    def remove_storage_key(self, storage_key: str) -> None:
        for key, resource in list(self.by_path.items()):
            if resource.storage_key == storage_key:
                del self.by_path[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.by_path.get((group, version, plural))

    def versions_of(self, storage_key: str) -> list[ResourceType]:
        return [r for r in self.by_path.values() if r.storage_key == storage_key]

    def all(self) -> list[ResourceType]:
        return list(self.by_path.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred first (CRD order; built-ins have one)."""
        groups: dict[str, list[str]] = {}
        for resource in self.by_path.values():
            versions = groups.setdefault(resource.group, [])
            if resource.version not in versions:
                versions.append(resource.version)
        return groups
