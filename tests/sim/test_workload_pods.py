"""Template hashes, surge and unavailability arithmetic, pods from templates."""

from __future__ import annotations

from infleet.sim.workload_pods import pod_from_template, resolve_int_or_percent, template_hash


def test_template_hash_is_stable_and_changes_with_the_template() -> None:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    reordered = {
        "spec": {"containers": [{"image": "x:1", "name": "c"}]},
        "metadata": {"labels": {"app": "a"}},
    }
    assert len(template_hash(template)) == 10
    assert template_hash(template) == template_hash(reordered)
    changed = {**template, "spec": {"containers": [{"name": "c", "image": "x:2"}]}}
    assert template_hash(changed) != template_hash(template)


def test_percentages_round_like_the_deployment_controller() -> None:
    assert resolve_int_or_percent(None, 3, True, "25%") == 1  # surge rounds up
    assert resolve_int_or_percent(None, 3, False, "25%") == 0  # unavailable rounds down
    assert resolve_int_or_percent("50%", 10, False, "25%") == 5
    assert resolve_int_or_percent(2, 10, True, "25%") == 2


def test_pod_from_template_is_controlled_by_its_owner() -> None:
    owner = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns", "uid": "u1"},
    }
    template = {
        "metadata": {"labels": {"app": "d"}, "annotations": {"a": "b"}},
        "spec": {"containers": [{"name": "c"}]},
    }
    pod = pod_from_template(owner, template, {"pod-template-hash": "h"}, generate_name="d-h-")
    assert pod["metadata"]["generateName"] == "d-h-"
    assert pod["metadata"]["labels"] == {"app": "d", "pod-template-hash": "h"}
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert pod["metadata"]["ownerReferences"][0]["controller"] is True
    pod["spec"]["containers"][0]["name"] = "changed"
    assert template["spec"]["containers"][0]["name"] == "c", "the template is not shared with the pod"
