"""CustomResourceDefinitions: validating them and turning them into served resource types.

A CRD is accepted only when its names are consistent, its schemas structural and its CEL rules compile
(``cel_rules``); its status (``NamesAccepted``, ``Established``) is written at create time so clients
can use the new resource immediately. Each served version becomes a :class:`ResourceType` once the CRD
is committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from infleet.apiserver import cel_rules, structural
from infleet.apiserver.deletion import CRD_CLEANUP
from infleet.apiserver.errors import Cause, invalid
from infleet.apiserver.resources import ResourceIndex, ResourceType, ScaleSubresource
from infleet.apiserver.storage import Change
from infleet.apiserver.tables import PrinterColumn, default_columns

if TYPE_CHECKING:
    from infleet.apiserver.cluster import Cluster

CRD_STORAGE_KEY = "customresourcedefinitions.apiextensions.k8s.io"
_KIND = "CustomResourceDefinition"


def _spec_causes(index: ResourceIndex, crd: Mapping[str, Any]) -> list[Cause]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    causes = _naming_causes(crd, names, group)
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            Cause("FieldValueNotSupported", 'supported values: "Cluster", "Namespaced"', "spec.scope")
        )
    causes += _version_causes(spec.get("versions") or [])
    causes += _clash_causes(index, crd, names, group)
    return causes


def _naming_causes(crd: Mapping[str, Any], names: Mapping[str, Any], group: str) -> list[Cause]:
    """The group must be a domain, plural and kind set, and the CRD named ``<plural>.<group>``."""
    causes = []
    if not group or "." not in group:
        causes.append(Cause("FieldValueInvalid", "should be a domain with at least one dot", "spec.group"))
    for required in ("plural", "kind"):
        if not names.get(required):
            causes.append(Cause("FieldValueRequired", "Required value", f"spec.names.{required}"))
    if names.get("plural") and group and crd["metadata"].get("name") != f"{names['plural']}.{group}":
        causes.append(
            Cause(
                "FieldValueInvalid",
                f'must be spec.names.plural+"."+spec.group: rename it to {names["plural"]}.{group}',
                "metadata.name",
            )
        )
    return causes


def _version_causes(versions: Any) -> list[Cause]:
    """Exactly one storage version, and a structural schema with rules that compile for every version."""
    causes = []
    if not versions:
        causes.append(
            Cause(
                "FieldValueRequired",
                "must have exactly one version marked as storage version",
                "spec.versions",
            )
        )
    storage = [v for v in versions if isinstance(v, Mapping) and v.get("storage")]
    if versions and len(storage) != 1:
        causes.append(
            Cause(
                "FieldValueInvalid",
                "must have exactly one version marked as storage version",
                "spec.versions",
            )
        )
    schemas = [_schema_of(version) for version in versions]
    for position, (schema, path) in enumerate(zip(schemas, _schema_paths(schemas), strict=True)):
        if schema is None:
            path = f"spec.versions[{position}].schema.openAPIV3Schema"
            causes.append(Cause("FieldValueRequired", "schemas are required", path))
        elif path is not None:
            causes += structural.check_structural(schema, path)
            causes += [
                Cause(c.reason, c.message, f"{path}.{c.field}")
                for c in cel_rules.compile_validations(schema).causes
            ]
    return causes


def _schema_of(version: Any) -> Any:
    return ((version.get("schema") or {}).get("openAPIV3Schema")) if isinstance(version, Mapping) else None


def _schema_paths(schemas: list[Any]) -> list[str | None]:
    """Where errors in each version's schema are reported: once under ``spec.validation`` when every
    version has the same schema (kube-apiserver's internal form does), else under each version."""
    if schemas and schemas[0] is not None and all(schema == schemas[0] for schema in schemas):
        return ["spec.validation.openAPIV3Schema", *([None] * (len(schemas) - 1))]
    return [f"spec.versions[{position}].schema.openAPIV3Schema" for position in range(len(schemas))]


def _clash_causes(
    index: ResourceIndex, crd: Mapping[str, Any], names: Mapping[str, Any], group: str
) -> list[Cause]:
    """Another resource of the group already serving this plural or kind."""
    causes = []
    for resource in index.all():
        clash = resource.group == group and resource.storage_key != crd["metadata"].get("name")
        if clash and (resource.plural == names.get("plural") or resource.kind == names.get("kind")):
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    f"{resource.plural} is already in use by another resource",
                    "spec.names",
                )
            )
    return causes


def prepare_create(index: ResourceIndex, crd: dict[str, Any]) -> None:
    """Validate a new CRD and write its finalizer and established status."""
    causes = _spec_causes(index, crd)
    if causes:
        raise invalid(_KIND, crd["metadata"].get("name", ""), causes, group="apiextensions.k8s.io")
    finalizers = crd["metadata"].setdefault("finalizers", [])
    if CRD_CLEANUP not in finalizers:
        finalizers.append(CRD_CLEANUP)
    crd["status"] = _established_status(crd, crd["metadata"].get("creationTimestamp", ""))


def prepare_update(index: ResourceIndex, current: Mapping[str, Any], crd: dict[str, Any]) -> None:
    causes = _spec_causes(index, crd)
    if (current.get("spec") or {}).get("group") != (crd.get("spec") or {}).get("group"):
        causes.append(Cause("FieldValueInvalid", "field is immutable", "spec.group"))
    if causes:
        raise invalid(_KIND, crd["metadata"].get("name", ""), causes, group="apiextensions.k8s.io")
    stored = list((current.get("status") or {}).get("storedVersions") or [])
    status = _established_status(crd, (current.get("metadata") or {}).get("creationTimestamp", ""))
    for version in stored:
        if version not in status["storedVersions"]:
            status["storedVersions"].insert(0, version)
    crd["status"] = status


def _established_status(crd: Mapping[str, Any], since: str) -> dict[str, Any]:
    spec = crd["spec"]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    return {
        "acceptedNames": dict(spec["names"]),
        "storedVersions": [storage],
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": since,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": since,
            },
        ],
    }


def resource_types(crd: Mapping[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a CRD."""
    spec = crd["spec"]
    names = spec["names"]
    found = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale = subresources.get("scale")
        columns = tuple(PrinterColumn.from_crd(c) for c in version.get("additionalPrinterColumns") or [])
        schema = _schema_of(version)
        selectable = {
            entry["jsonPath"].lstrip("."): entry["jsonPath"]
            for entry in version.get("selectableFields") or []
        }
        found.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                has_status="status" in subresources,
                scale=ScaleSubresource(
                    spec_replicas_path=scale["specReplicasPath"],
                    status_replicas_path=scale["statusReplicasPath"],
                    label_selector_path=scale.get("labelSelectorPath"),
                )
                if scale
                else None,
                columns=columns or tuple(default_columns()),
                selectable_fields=selectable,
                schema=schema,
                validations=cel_rules.compile_validations(schema) if schema is not None else None,
                builtin=False,
                schema_version=_resource_version(crd),
            )
        )
    return found


def _resource_version(crd: Mapping[str, Any]) -> int:
    try:
        return int((crd.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def register(index: ResourceIndex, crd: Mapping[str, Any]) -> None:
    storage_key = str(crd["metadata"]["name"])
    index.remove_storage_key(storage_key)
    for resource in resource_types(crd):
        index.add(resource)


def on_crd_change(cluster: Cluster, change: Change) -> None:
    """Serve, re-serve or stop serving a CRD's resources once its change is committed."""
    if change.obj is None:
        cluster.index.remove_storage_key(change.name)
        cluster.hub.close_resource(change.name)
        return
    register(cluster.index, change.obj)
