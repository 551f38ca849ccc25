"""The client-side apply arithmetic: preparing a manifest, the three-way merge patch, partial comparison."""

from __future__ import annotations

from infleet.api.kubernetes import CONFIGMAP, NAMESPACE
from infleet.fleet.member.manifest_apply import is_subset, manifest_hash, prepare, three_way_patch


def test_prepare_drops_status_and_server_fields_and_fits_the_namespace_to_the_scope() -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "uid": "u", "resourceVersion": "7", "managedFields": []},
        "data": {"a": "b"},
        "status": {"x": 1},
    }
    prepared = prepare(manifest, CONFIGMAP)
    assert prepared == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": {"a": "b"},
    }
    assert manifest["metadata"]["uid"] == "u"  # the Work's copy is untouched
    namespace = prepare({"kind": "Namespace", "metadata": {"name": "n", "namespace": "x"}}, NAMESPACE)
    assert namespace["metadata"] == {"name": "n"}


def test_the_three_way_patch_sets_everything_desired_and_deletes_what_was_dropped() -> None:
    last = {"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"x": "1", "y": "2"}, "extra": "v"}
    desired = {"metadata": {"labels": {"a": "1"}}, "data": {"x": "3"}}
    assert three_way_patch(last, desired) == {
        "extra": None,
        "metadata": {"labels": {"b": None, "a": "1"}},
        "data": {"y": None, "x": "3"},
    }


def test_without_a_last_applied_configuration_the_patch_only_sets() -> None:
    desired = {"spec": {"replicas": 2}}
    assert three_way_patch({}, desired) == desired


def test_partial_comparison_ignores_fields_the_manifest_does_not_set() -> None:
    desired = {"spec": {"containers": [{"name": "a", "image": "x"}]}}
    live = {
        "spec": {
            "containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always"}],
            "dnsPolicy": "ClusterFirst",
        }
    }
    assert is_subset(desired, live)
    assert not is_subset(desired, {"spec": {"containers": [{"name": "a", "image": "y"}]}})
    assert not is_subset(desired, {"spec": {"containers": []}})
    assert not is_subset({"a": 1}, {})


def test_the_hash_ignores_key_order() -> None:
    assert manifest_hash({"a": 1, "b": {"c": 2, "d": 3}}) == manifest_hash({"b": {"d": 3, "c": 2}, "a": 1})
    assert manifest_hash({"a": 1}) != manifest_hash({"a": 2})
