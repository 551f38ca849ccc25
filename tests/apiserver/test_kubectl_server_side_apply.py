"""Server-side apply through real kubectl: field managers, conflicts, forcing, and removal of dropped fields.

Each test follows a behaviour documented for kube-apiserver at kubernetes.io ("Server-Side Apply"):
conflicts name the managers and fields, equal values are co-owned, ``--force-conflicts`` takes
ownership, and a field an applier drops goes unless another manager owns it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver_harness import Kubectl

pytestmark = pytest.mark.kubectl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def deployment(name: str, replicas: int | None = None, containers: list[dict[str, Any]] | None = None) -> str:
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": name}}}
    if replicas is not None:
        spec["replicas"] = replicas
    if containers is not None:
        spec["template"] = {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}
    return yaml.safe_dump(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}
    )


WEB = {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}


def apply(kubectl: Kubectl, manifest: str, manager: str, *flags: str, check: bool = True) -> Any:
    return kubectl.run(
        "apply", "--server-side", f"--field-manager={manager}", *flags, "-f", "-", input=manifest, check=check
    )


def managed(kubectl: Kubectl, kind: str, name: str) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """The object and its managedFields entries by (manager, operation), as kubectl shows them."""
    obj = yaml.safe_load(kubectl.run("get", kind, name, "-o", "yaml", "--show-managed-fields").stdout)
    entries = {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}
    return obj, entries


def test_two_managers_conflict_over_deployment_replicas(kubectl: Kubectl) -> None:
    name = unique("web")
    apply(kubectl, deployment(name, 2, [WEB]), "alice")
    refused = apply(kubectl, deployment(name, 3), "bob", check=False)
    assert refused.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas' in refused.stderr
    assert "--force-conflicts" in refused.stderr  # kubectl explains the ways out of a conflict

    apply(kubectl, deployment(name, 2), "bob")  # the same value: co-owned, no conflict
    _, entries = managed(kubectl, "deployment", name)
    assert "f:replicas" in entries["alice", "Apply"]["fieldsV1"]["f:spec"]
    assert "f:replicas" in entries["bob", "Apply"]["fieldsV1"]["f:spec"]

    apply(kubectl, deployment(name, 4), "bob", "--force-conflicts")
    obj, entries = managed(kubectl, "deployment", name)
    assert obj["spec"]["replicas"] == 4
    assert "f:replicas" not in entries["alice", "Apply"]["fieldsV1"]["f:spec"]
    assert "f:replicas" in entries["bob", "Apply"]["fieldsV1"]["f:spec"]


def test_an_update_takes_the_field_and_the_next_apply_conflicts_with_it(kubectl: Kubectl) -> None:
    name = unique("web")
    apply(kubectl, deployment(name, 2, [WEB]), "alice")
    kubectl.run("patch", "deployment", name, "--type=merge", "-p", '{"spec":{"replicas":5}}')
    obj, entries = managed(kubectl, "deployment", name)
    patch_entry = entries["kubectl-patch", "Update"]
    assert patch_entry["apiVersion"] == "apps/v1"
    assert patch_entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entries["alice", "Apply"]["fieldsV1"]["f:spec"]

    refused = apply(kubectl, deployment(name, 3, [WEB]), "alice", check=False)
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.replicas'
        in refused.stderr
    )
    apply(kubectl, deployment(name, 3, [WEB]), "alice", "--force-conflicts")
    obj, entries = managed(kubectl, "deployment", name)
    assert obj["spec"]["replicas"] == 3
    assert ("kubectl-patch", "Update") not in entries  # it owns nothing any more


@pytest.fixture
def crd(kubectl: Kubectl) -> Kubectl:
    kubectl.run("apply", "-f", str(EXAMPLES / "crd-modelserver.yaml"))
    kubectl.run("wait", "--for=condition=Established", "crd/modelservers.llm.example.com", "--timeout=20s")
    return kubectl


def model_server(name: str, spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> str:
    obj: dict[str, Any] = {
        "apiVersion": "llm.example.com/v1alpha1",
        "kind": "ModelServer",
        "metadata": {"name": name},
    }
    if spec is not None:
        obj["spec"] = spec
    if status is not None:
        obj["status"] = status
    return yaml.safe_dump(obj)


def test_custom_resource_field_conflict_and_force(crd: Kubectl) -> None:
    kubectl = crd
    name = unique("ms")

    def server(model: str) -> str:
        return model_server(name, {"model": model})

    apply(kubectl, server("qwen2-7b"), "platform")
    refused = apply(kubectl, server("llama3-8b"), "team", check=False)
    assert 'Apply failed with 1 conflict: conflict with "platform": .spec.model' in refused.stderr
    apply(kubectl, server("llama3-8b"), "team", "--force-conflicts")
    obj, entries = managed(kubectl, "modelserver", name)
    assert obj["spec"]["model"] == "llama3-8b"
    assert ("platform", "Apply") not in entries  # model was all it applied
    assert entries["team", "Apply"]["fieldsV1"] == {"f:spec": {"f:model": {}}}


def test_a_dropped_field_is_removed_unless_another_manager_owns_it(kubectl: Kubectl) -> None:
    name = unique("cm")

    def config_map(**data: str) -> str:
        return yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
        )

    apply(kubectl, config_map(mode="fast", level="3", region="eu"), "alice")
    apply(kubectl, config_map(region="eu"), "bob")
    apply(kubectl, config_map(mode="fast"), "alice")
    obj, entries = managed(kubectl, "configmap", name)
    assert obj["data"] == {"mode": "fast", "region": "eu"}  # level removed, region kept for bob
    assert entries["alice", "Apply"]["fieldsV1"] == {"f:data": {"f:mode": {}}}
    apply(kubectl, config_map(), "bob")
    obj, _ = managed(kubectl, "configmap", name)
    assert obj["data"] == {"mode": "fast"}


def test_containers_merge_by_name_and_each_manager_keeps_its_own(kubectl: Kubectl) -> None:
    name = unique("web")
    apply(kubectl, deployment(name, 1, [WEB]), "alice")
    sidecar = {"name": "proxy", "image": "envoy:1.30"}
    apply(kubectl, deployment(name, containers=[sidecar]), "mesh")
    obj, entries = managed(kubectl, "deployment", name)
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["web", "proxy"]
    alice_containers = entries["alice", "Apply"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert set(alice_containers) == {'k:{"name":"web"}'}
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in alice_containers['k:{"name":"web"}']["f:ports"]
    mesh_containers = entries["mesh", "Apply"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert set(mesh_containers) == {'k:{"name":"proxy"}'}

    # alice renames her container: hers is replaced, the mesh's sidecar stays.
    apply(kubectl, deployment(name, 1, [{**WEB, "name": "app"}]), "alice")
    obj, _ = managed(kubectl, "deployment", name)
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["proxy", "app"]
    assert containers[0]["image"] == "envoy:1.30"


def test_server_side_apply_takes_over_an_object_applied_client_side(kubectl: Kubectl) -> None:
    name = unique("web")
    env = [{"name": "MODE", "value": "fast"}, {"name": "DEBUG", "value": "1"}]
    kubectl.run("apply", "-f", "-", input=deployment(name, 2, [{**WEB, "env": env}]))
    _, entries = managed(kubectl, "deployment", name)
    assert ("kubectl-client-side-apply", "Update") in entries

    # kubectl's own manager upgrades without conflicts, and what the new config drops goes.
    kubectl.run("apply", "--server-side", "-f", "-", input=deployment(name, 3, [{**WEB, "env": env[:1]}]))
    obj, entries = managed(kubectl, "deployment", name)
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["template"]["spec"]["containers"][0]["env"] == env[:1]
    assert ("kubectl", "Apply") in entries
    last_applied = json.loads(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last_applied["spec"]["replicas"] == 3


def test_dropped_field_returns_to_its_default_and_status_is_owned_through_its_subresource(
    crd: Kubectl,
) -> None:
    name = unique("ms")
    apply(crd, model_server(name, {"model": "qwen2-7b", "replicas": 3}), "platform")
    apply(crd, model_server(name, {"model": "qwen2-7b"}), "platform")
    obj, _ = managed(crd, "modelserver", name)
    assert obj["spec"]["replicas"] == 1  # removed, then defaulted again by the schema

    # Status in a main-resource apply is not owned; through /status only the status is.
    apply(crd, model_server(name, {"model": "qwen2-7b"}, {"replicas": 7}), "platform")
    status = model_server(name, {"model": "other"}, {"replicas": 2})
    apply(crd, status, "model-controller", "--subresource=status")
    obj, entries = managed(crd, "modelserver", name)
    assert obj["status"]["replicas"] == 2
    assert obj["spec"]["model"] == "qwen2-7b"
    assert entries["platform", "Apply"]["fieldsV1"] == {"f:spec": {"f:model": {}}}
    controller = entries["model-controller", "Apply"]
    assert controller["subresource"] == "status"
    assert controller["fieldsV1"] == {"f:status": {"f:replicas": {}}}
