"""``metadata.managedFields``: who owns which fields of an object, kept on every write.

Each entry is a manager (``fieldManager``, or the client's User-Agent up to its first ``/``), an
operation (``Apply`` or ``Update``), the subresource written through and a FieldsV1 set. A write that is
not an apply (create, PUT, JSON/merge/strategic patch) gives its manager the fields it added or changed
and takes them from every other manager, as kube-apiserver does; ``server_side_apply`` handles applies.
``cluster`` calls :func:`track_update` on each write.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from typing import Any

from infleet.apiserver.builtin_schemas import BuiltinSchemas
from infleet.apiserver.field_set import FieldSet
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.schema_node import SchemaNode
from infleet.apiserver.typed_values import Comparison, compare

APPLY = "Apply"
UPDATE = "Update"
MAX_UPDATE_MANAGERS = 10  # older Update entries are merged into one, as kube-apiserver caps them
ANCIENT_MANAGER = "ancient-changes"
_FIELD_MANAGER_MAX_LENGTH = 128
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# What no manager ever owns besides apiVersion and kind: the server's own metadata (kube-apiserver
# strips these from every field set).
_STRIPPED_METADATA = frozenset(
    {
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "generation",
        "managedFields",
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)

ManagerKey = tuple[str, str, str, str]


class ManagerEntry:
    """One managedFields entry. A stored entry's FieldsV1 is decoded only when a write touches its
    fields, and written back as it was while its set is unchanged."""

    __slots__ = ("_fields", "api_version", "manager", "operation", "raw", "subresource", "time")

    def __init__(
        self,
        manager: str,
        operation: str,
        api_version: str,
        time: str | None,
        subresource: str,
        fields: FieldSet | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.time = time
        self.subresource = subresource
        self._fields = fields
        self.raw = raw

    @property
    def fields(self) -> FieldSet:
        if self._fields is None:
            self._fields = FieldSet.from_fields_v1(self.raw or {})
        return self._fields

    def with_fields(self, fields: FieldSet) -> ManagerEntry:
        return ManagerEntry(
            self.manager, self.operation, self.api_version, self.time, self.subresource, fields
        )

    def covers(self, fields: FieldSet) -> bool:
        if self._fields is None and self.raw is not None:
            return fields.within_fields_v1(self.raw)
        return fields.difference(self.fields).empty()

    def overlaps(self, fields: FieldSet) -> bool:
        if self._fields is None and self.raw is not None:
            return fields.overlaps_fields_v1(self.raw)
        return not self.fields.intersection(fields).empty()

    @property
    def key(self) -> ManagerKey:
        # Appliers keep one entry whatever version they apply; updaters get one per version.
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def described(self) -> str:
        """The manager as kube-apiserver names it in conflicts: ``"kubectl-edit" using apps/v1``."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def encode(self) -> dict[str, Any]:
        fields = self.raw if self.raw is not None else self.fields.to_fields_v1()
        entry: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = fields
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


Managers = dict[ManagerKey, ManagerEntry]


def decode(entries: Any, lazy: bool = False) -> Managers:
    """Parse managedFields; raises ``ValueError`` on entries kube-apiserver would not decode.

    ``lazy`` leaves the field sets of stored entries (written by this server) to be decoded on use.
    """
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    managers: Managers = {}
    for index, raw in enumerate(entries):
        if not isinstance(raw, Mapping):
            raise ValueError(f"managedFields[{index}] must be an object")
        operation = raw.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError(f"managedFields[{index}]: operation must be `Apply` or `Update`")
        if not raw.get("apiVersion"):
            raise ValueError(f"managedFields[{index}]: apiVersion must not be empty")
        if raw.get("fieldsType") != "FieldsV1":
            raise ValueError(f"managedFields[{index}]: fieldsType must be FieldsV1")
        fields_raw = raw.get("fieldsV1") or {}
        if not isinstance(fields_raw, Mapping):
            raise ValueError(f"managedFields[{index}]: fieldsV1 must be an object")
        time = raw.get("time")
        entry = ManagerEntry(
            manager=str(raw.get("manager") or ""),
            operation=str(operation),
            api_version=str(raw["apiVersion"]),
            time=time if isinstance(time, str) else None,
            subresource=str(raw.get("subresource") or ""),
            fields=None if lazy else FieldSet.from_fields_v1(fields_raw),
            raw=fields_raw,
        )
        if entry.key in managers:
            raise ValueError(f"managedFields[{index}]: duplicate entry for manager {entry.manager!r}")
        managers[entry.key] = entry
    return managers


def decode_or_empty(obj: Mapping[str, Any] | None) -> Managers:
    """The managers of a stored object; an undecodable record counts as none (the object stays writable)."""
    entries = ((obj or {}).get("metadata") or {}).get("managedFields")
    if not entries:
        return {}
    try:
        return decode(entries, lazy=True)
    except ValueError:
        return {}


def _sort_key(entry: ManagerEntry) -> tuple[str, str, str, str, str]:
    # kube-apiserver's order: appliers first, then by time, manager, version and subresource.
    return (entry.operation, entry.time or "", entry.manager, entry.api_version, entry.subresource)


def encode(managers: Managers) -> list[dict[str, Any]]:
    return [entry.encode() for entry in sorted(managers.values(), key=_sort_key)]


def store(obj: dict[str, Any], managers: Managers) -> None:
    metadata = obj.setdefault("metadata", {})
    if managers:
        metadata["managedFields"] = encode(managers)
    else:
        metadata.pop("managedFields", None)


@functools.lru_cache(maxsize=256)  # a server sees few distinct User-Agents
def manager_from_user_agent(user_agent: str) -> str:
    """kube-apiserver's default manager: the User-Agent before its first ``/``, printable, <= 128 chars."""
    prefix = user_agent.split("/", 1)[0]
    printable = "".join(c for c in prefix if c == " " or unicodedata.category(c)[0] not in "CZ")
    return printable[:_FIELD_MANAGER_MAX_LENGTH]


# -- schemas and ignored fields --------------------------------------------------------------------------

_SCHEMAS: dict[int, tuple[ResourceType, SchemaNode | None]] = {}


def schema_of(resource: ResourceType) -> SchemaNode | None:
    """The schema of ``resource``'s objects, ``metadata`` typed as ObjectMeta for custom resources too."""
    cached = _SCHEMAS.get(id(resource))
    if cached is not None and cached[0] is resource:
        return cached[1]
    builtins = BuiltinSchemas.load()
    node: SchemaNode | None = None
    if resource.builtin:
        node = builtins.node(resource.group, resource.version, resource.kind)
    elif resource.schema is not None:
        properties = dict(resource.schema.get("properties") or {})
        properties["metadata"] = {"$ref": f"#/$defs/{_OBJECT_META}"}
        node = SchemaNode({**resource.schema, "properties": properties}, builtins.definitions)
    if len(_SCHEMAS) > 1024:  # resource types come and go with CRDs; the cache never grows unbounded
        _SCHEMAS.clear()
    _SCHEMAS[id(resource)] = (resource, node)
    return node


def ownable(resource: ResourceType, subresource: str | None, obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of ``obj`` a write through ``subresource`` can own (a shallow view).

    Never apiVersion, kind or the server's metadata; through the main resource not the status of a kind
    with a status subresource, through ``/status`` only the status (kube-apiserver's reset fields).
    ``metadata`` is always there, so that it never counts as a field of its own.
    """
    if obj is None:
        return {"metadata": {}}
    if subresource == "status":
        view = {"status": obj["status"]} if "status" in obj else {}
    else:
        skip_status = resource.has_status
        view = {
            k: v
            for k, v in obj.items()
            if k not in ("apiVersion", "kind", "metadata") and not (skip_status and k == "status")
        }
    metadata = obj.get("metadata")
    view["metadata"] = (
        {k: v for k, v in metadata.items() if k not in _STRIPPED_METADATA}
        if isinstance(metadata, Mapping)
        else {}
    )
    return view


def comparison(
    resource: ResourceType,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    schema: SchemaNode | None,
    subresource: str | None,
) -> Comparison:
    """What a write changed among the fields it can own."""
    return compare(
        ownable(resource, subresource, old),
        ownable(resource, subresource, new),
        schema,
        struct_members=not resource.builtin,
    )


# -- updates -----------------------------------------------------------------------------------------


def take_away(managers: Managers, changes: Comparison, keep: ManagerKey | None) -> None:
    """Every manager but ``keep`` loses the fields a write changed or removed; empty entries go."""
    lost = changes.changed().union(changes.removed)
    if lost.empty():
        return
    for key in list(managers):
        entry = managers[key]
        if key == keep:
            continue
        if not entry.overlaps(lost):
            continue
        remaining = entry.fields.difference(lost)
        if remaining.empty():
            del managers[key]
        else:
            managers[key] = entry.with_fields(remaining)


def cap_update_managers(managers: Managers, now: str, api_version: str) -> None:
    """Merge the oldest Update entries into ``ancient-changes`` once there are more than ten."""
    if len(managers) <= MAX_UPDATE_MANAGERS:
        return
    updaters = sorted(
        (e for e in managers.values() if e.operation == UPDATE and e.manager != ANCIENT_MANAGER),
        key=lambda e: e.time or "",
    )
    ancient_key: ManagerKey = (ANCIENT_MANAGER, UPDATE, api_version, "")
    excess = len(updaters) + (1 if ancient_key in managers else 0) - MAX_UPDATE_MANAGERS
    if excess <= 0:
        return
    merged = managers.get(ancient_key)
    fields = merged.fields if merged is not None else FieldSet()
    for entry in updaters[: excess + (0 if merged is not None else 1)]:
        fields = fields.union(entry.fields)
        del managers[entry.key]
    managers[ancient_key] = ManagerEntry(ANCIENT_MANAGER, UPDATE, api_version, now, "", fields)


def _record_update(managers: Managers, key: ManagerKey, changes: Comparison, now: str) -> None:
    """The updater keeps its earlier fields less the removed ones, plus what it added or changed."""
    previous = managers.get(key)
    if previous is not None and previous.overlaps(changes.removed):
        previous = managers[key] = previous.with_fields(previous.fields.difference(changes.removed))
    owned = changes.changed()
    if owned.empty():
        if previous is not None and previous.fields.empty():
            del managers[key]
        return
    if previous is None:
        manager, _, api_version, subresource = key
        managers[key] = ManagerEntry(manager, UPDATE, api_version, now, subresource, owned)
    elif previous.covers(owned):
        previous.time = now  # the common rewrite of fields it already owns keeps the stored set
    else:
        managers[key] = previous.with_fields(previous.fields.union(owned))
        managers[key].time = now


def track_update(
    resource: ResourceType,
    live: Mapping[str, Any] | None,
    obj: dict[str, Any],
    manager: str,
    subresource: str | None,
    now: str,
) -> None:
    """Record a non-apply write of ``obj`` (``live`` before it, None on create) in its managedFields.

    The managedFields the client sent win when they differ from the stored ones (that is how a client
    rewrites ownership); ``[{}]`` clears them. The manager gets the fields the write added or changed,
    merged into its earlier Update entry; every other manager loses them, and loses removed fields.
    """
    metadata = obj.setdefault("metadata", {})
    sent = metadata.get("managedFields")
    if isinstance(sent, list) and len(sent) == 1 and sent[0] == {}:
        metadata.pop("managedFields", None)
        return
    live_entries = ((live or {}).get("metadata") or {}).get("managedFields")
    managers: Managers | None = None
    if sent and not subresource and sent != live_entries:
        try:
            managers = decode(sent)
        except ValueError:
            managers = None
    if managers is None:
        managers = decode_or_empty(live)
    schema = schema_of(resource)
    changes = comparison(resource, live, obj, schema, subresource)
    key: ManagerKey = (manager, UPDATE, resource.api_version, subresource or "")
    take_away(managers, changes, key if manager else None)
    if manager:
        _record_update(managers, key, changes, now)
        cap_update_managers(managers, now, resource.api_version)
    store(obj, managers)
