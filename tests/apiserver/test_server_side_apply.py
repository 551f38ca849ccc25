"""Field ownership of server-side apply and of ordinary writes, on plain objects (no server)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infleet.apiserver.builtin_kinds import builtin_resources
from infleet.apiserver.errors import StatusError
from infleet.apiserver.field_set import FieldSet, path_string
from infleet.apiserver.managed_fields import track_update
from infleet.apiserver.resources import ResourceType
from infleet.apiserver.server_side_apply import apply_configuration

NOW = "2026-03-01T10:00:00Z"
LATER = "2026-03-01T11:00:00Z"


def builtin(kind: str) -> ResourceType:
    return next(r for r in builtin_resources() if r.kind == kind)


DEPLOYMENT = builtin("Deployment")
CONFIGMAP = builtin("ConfigMap")
WIDGET = ResourceType(
    group="example.com",
    version="v1",
    kind="Widget",
    plural="widgets",
    singular="widget",
    namespaced=True,
    builtin=False,
    schema={
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "color": {"type": "string"},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "protocol"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "protocol": {"type": "string", "default": "TCP"},
                                "port": {"type": "integer"},
                            },
                        },
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "selector": {
                        "type": "object",
                        "x-kubernetes-map-type": "atomic",
                        "additionalProperties": {"type": "string"},
                    },
                    "limits": {
                        "type": "object",
                        "properties": {"cpu": {"type": "string"}, "gpu": {"type": "string"}},
                    },
                },
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        },
    },
)


def deployment(replicas: int | None = 2, **container: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", **container}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}


def widget(**spec: Any) -> dict[str, Any]:
    """A Widget; without fields it has no spec at all (an empty spec would be a field of its own)."""
    obj: dict[str, Any] = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    if spec:
        obj["spec"] = spec
    return obj


def apply(
    resource: ResourceType,
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    force: bool = False,
    now: str = NOW,
    subresource: str | None = None,
) -> dict[str, Any]:
    return apply_configuration(
        resource,
        copy.deepcopy(live),
        config,
        manager=manager,
        subresource=subresource,
        force=force,
        now=now,
    )


def update(
    resource: ResourceType, live: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str = LATER
) -> dict[str, Any]:
    obj = copy.deepcopy(new)
    track_update(resource, live, obj, manager, None, now)
    return obj


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str, operation: str = "Apply") -> list[str]:
    entry = entries(obj)[(manager, operation)]
    return [path_string(p) for p in FieldSet.from_fields_v1(entry["fieldsV1"]).paths()]


def test_apply_records_the_fields_of_the_configuration_only() -> None:
    obj = apply(DEPLOYMENT, None, deployment(ports=[{"containerPort": 80}]), "kubectl")
    (entry,) = obj["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": NOW,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},  # LabelSelector is an atomic map
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"web"}': {
                                ".": {},
                                "f:image": {},
                                "f:name": {},
                                # the port's protocol key takes its schema default
                                "f:ports": {
                                    'k:{"containerPort":80,"protocol":"TCP"}': {
                                        ".": {},
                                        "f:containerPort": {},
                                    }
                                },
                            }
                        }
                    },
                },
            }
        },
    }


def test_update_owns_what_it_added_or_changed_and_takes_it_from_others() -> None:
    created = update(DEPLOYMENT, None, deployment(), "kubectl-create", now=NOW)
    assert owned(created, "kubectl-create", "Update") == [
        ".spec.replicas",
        ".spec.selector",
        ".spec.template.metadata.labels",
        ".spec.template.metadata.labels.app",
        ".spec.template.spec.containers",
        '.spec.template.spec.containers[name="web"]',
        '.spec.template.spec.containers[name="web"].image',
        '.spec.template.spec.containers[name="web"].name',
    ]
    edited = update(DEPLOYMENT, created, {**deployment(replicas=5)}, "kubectl-edit")
    assert owned(edited, "kubectl-edit", "Update") == [".spec.replicas"]
    assert ".spec.replicas" not in owned(edited, "kubectl-create", "Update")
    assert entries(edited)[("kubectl-edit", "Update")]["time"] == LATER
    # Nothing changed: no entry, no new time.
    again = update(DEPLOYMENT, edited, edited, "someone")
    assert again["metadata"]["managedFields"] == edited["metadata"]["managedFields"]


def test_update_entries_of_one_manager_merge_and_vanish_when_they_own_nothing() -> None:
    live = update(CONFIGMAP, None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "a")
    one = update(CONFIGMAP, live, {**live, "data": {"x": "1"}}, "patcher")
    two = update(CONFIGMAP, one, {**one, "data": {"x": "1", "y": "2"}}, "patcher")
    assert owned(two, "patcher", "Update") == [".data", ".data.x", ".data.y"]
    taken = update(CONFIGMAP, two, {**two, "data": {"x": "9", "y": "8"}}, "other")
    assert ("patcher", "Update") in entries(taken)  # still owns .data itself
    assert owned(taken, "patcher", "Update") == [".data"]
    gone = update(CONFIGMAP, taken, {k: v for k, v in taken.items() if k != "data"}, "other")
    assert ("patcher", "Update") not in entries(gone)


def test_conflict_names_manager_and_field_in_kube_apiserver_wording() -> None:
    live = apply(DEPLOYMENT, None, deployment(replicas=2), "kubectl")
    scaled = update(DEPLOYMENT, live, deployment(replicas=5), "kubectl-edit")
    with pytest.raises(StatusError) as raised:
        apply(DEPLOYMENT, scaled, deployment(replicas=3), "kubectl")
    error = raised.value
    assert (error.code, error.reason) == (409, "Conflict")
    assert (
        error.message
        == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )
    status = error.to_status()
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-edit" using apps/v1',
            "field": ".spec.replicas",
        }
    ]


def test_several_conflicts_are_listed_per_manager() -> None:
    live = apply(WIDGET, None, widget(size=1, color="red"), "alice")
    with pytest.raises(StatusError) as raised:
        apply(WIDGET, live, widget(size=2, color="blue"), "bob")
    assert raised.value.message == (
        'Apply failed with 2 conflicts: conflicts with "alice":\n- .spec.color\n- .spec.size'
    )
    assert [c.field for c in raised.value.causes] == [".spec.color", ".spec.size"]


def test_equal_values_are_shared_and_force_takes_ownership() -> None:
    live = apply(WIDGET, None, widget(size=1, color="red"), "alice")
    shared = apply(WIDGET, live, widget(size=1), "bob")
    assert owned(shared, "alice") == [".spec.color", ".spec.size"]
    assert owned(shared, "bob") == [".spec.size"]
    forced = apply(WIDGET, shared, widget(size=3), "bob", force=True, now=LATER)
    assert forced["spec"]["size"] == 3
    assert owned(forced, "alice") == [".spec.color"]
    assert entries(forced)[("bob", "Apply")]["time"] == LATER


def test_a_field_dropped_from_the_configuration_is_removed_unless_someone_else_owns_it() -> None:
    live = apply(WIDGET, None, widget(size=1, color="red", limits={"cpu": "1", "gpu": "1"}), "alice")
    live = apply(WIDGET, live, widget(color="red"), "bob")
    after = apply(WIDGET, live, widget(), "alice")
    assert after["spec"] == {"color": "red"}  # size and limits removed, color kept for bob
    assert ("alice", "Apply") not in entries(after)
    assert owned(after, "bob") == [".spec.color"]
    again = apply(WIDGET, after, widget(), "bob")
    assert "spec" not in again
    assert "managedFields" not in again["metadata"]


def test_a_struct_goes_once_nobody_owns_anything_in_it() -> None:
    live = apply(WIDGET, None, widget(limits={"cpu": "1"}), "alice")
    live = update(WIDGET, live, widget(limits={"cpu": "1", "gpu": "2"}), "patcher")
    kept = apply(WIDGET, live, widget(size=1), "alice")
    assert kept["spec"] == {"size": 1, "limits": {"gpu": "2"}}


def test_keyed_list_merges_by_key_and_prunes_only_the_appliers_items() -> None:
    live = apply(WIDGET, None, widget(ports=[{"name": "http", "port": 80}]), "alice")
    live = apply(WIDGET, live, widget(ports=[{"name": "metrics", "port": 9090}]), "bob")
    assert [p["name"] for p in live["spec"]["ports"]] == ["http", "metrics"]
    changed = apply(WIDGET, live, widget(ports=[{"name": "grpc", "port": 81}]), "alice")
    assert [(p["name"], p["port"]) for p in changed["spec"]["ports"]] == [("metrics", 9090), ("grpc", 81)]
    assert owned(changed, "alice") == [
        '.spec.ports[name="grpc",protocol="TCP"]',
        '.spec.ports[name="grpc",protocol="TCP"].name',
        '.spec.ports[name="grpc",protocol="TCP"].port',
    ]


def test_set_lists_merge_by_value_atomic_lists_and_maps_are_replaced() -> None:
    live = apply(WIDGET, None, widget(tags=["a"], args=["x", "y"], selector={"k": "v", "o": "p"}), "alice")
    live = apply(WIDGET, live, widget(tags=["b"]), "bob")
    assert live["spec"]["tags"] == ["a", "b"]
    assert owned(live, "bob") == ['.spec.tags[="b"]']
    with pytest.raises(StatusError) as raised:
        apply(WIDGET, live, widget(args=["z"], selector={"k": "v"}), "bob")
    assert [c.field for c in raised.value.causes] == [".spec.args", ".spec.selector"]
    forced = apply(WIDGET, live, widget(args=["z"], selector={"k": "v"}), "bob", force=True)
    assert forced["spec"]["args"] == ["z"]
    assert forced["spec"]["selector"] == {"k": "v"}


def test_keyed_item_without_its_key_is_a_bad_request() -> None:
    with pytest.raises(StatusError) as raised:
        apply(WIDGET, None, widget(ports=[{"port": 80}]), "alice")
    assert raised.value.code == 400
    assert "omits key field 'name'" in raised.value.message


def test_status_is_not_owned_through_the_main_resource_and_only_status_through_status() -> None:
    live = apply(WIDGET, None, {**widget(size=1), "status": {"ready": True}}, "alice")
    assert owned(live, "alice") == [".spec.size"]
    through_status = apply(
        WIDGET, live, {**widget(size=9), "status": {"ready": True}}, "ctl", subresource="status"
    )
    (entry,) = [e for e in through_status["metadata"]["managedFields"] if e["manager"] == "ctl"]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:ready": {}}}


def test_first_apply_to_an_unmanaged_object_conflicts_with_before_first_apply() -> None:
    live = widget(size=1)
    with pytest.raises(StatusError) as raised:
        apply(WIDGET, live, widget(size=2), "alice")
    assert 'conflict with "before-first-apply" using example.com/v1' in raised.value.message


def test_kubectl_takes_over_fields_it_applied_client_side_without_conflict() -> None:
    last = '{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":1}}'
    created = widget(size=1)
    created["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": last}
    live = update(WIDGET, None, created, "kubectl-client-side-apply")
    upgraded = apply(WIDGET, live, widget(size=2), "kubectl")
    assert upgraded["spec"]["size"] == 2
    annotation = upgraded["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert '"size":2' in annotation
    with pytest.raises(StatusError):  # any other manager still conflicts
        apply(WIDGET, live, widget(size=2), "someone-else")


def test_managed_fields_sent_by_the_client_replace_the_record_and_an_empty_entry_clears_it() -> None:
    live = apply(WIDGET, None, widget(size=1), "alice")
    rewritten = copy.deepcopy(live)
    rewritten["metadata"]["managedFields"][0]["manager"] = "carol"
    assert list(entries(update(WIDGET, live, rewritten, "x"))) == [("carol", "Apply")]
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in update(WIDGET, live, cleared, "x")["metadata"]
    kept = copy.deepcopy(live)
    kept["metadata"]["managedFields"] = []
    assert list(entries(update(WIDGET, live, kept, "x"))) == [("alice", "Apply")]


def test_apply_refuses_managed_fields_in_the_configuration() -> None:
    config = widget(size=1)
    config["metadata"]["managedFields"] = [{"manager": "x"}]
    with pytest.raises(StatusError) as raised:
        apply(WIDGET, None, config, "alice")
    assert raised.value.code == 400


def test_more_than_ten_updaters_fold_the_oldest_into_ancient_changes() -> None:
    obj = apply(CONFIGMAP, None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "a")
    for i in range(12):
        obj = update(
            CONFIGMAP, obj, {**obj, "data": {**obj.get("data", {}), f"k{i}": "v"}}, f"m{i:02}", f"T{i:02}"
        )
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert "ancient-changes" in managers
    assert "m11" in managers
    assert "m00" not in managers


def test_keyed_list_order_follows_the_applied_order_and_keeps_live_only_items_in_place() -> None:
    def ports(*names: str) -> dict[str, Any]:
        return widget(ports=[{"name": n, "port": i} for i, n in enumerate(names)])

    live = apply(WIDGET, None, ports("a", "b"), "alice")
    live = apply(WIDGET, live, widget(ports=[{"name": "x", "port": 9}]), "bob")
    live["spec"]["ports"] = [live["spec"]["ports"][i] for i in (0, 2, 1)]  # a, x, b
    reordered = apply(WIDGET, live, ports("b", "a"), "alice")
    assert [p["name"] for p in reordered["spec"]["ports"]] == ["x", "b", "a"]
