"""Pod spec immutability as kube-apiserver enforces it, through real kubectl and over HTTP: images, a
shorter deadline and added tolerations may change; anything else answers 422 with kube's message, and
``pods/binding`` still sets the node."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apiserver_harness import Kubectl, ServerThread

PODS = "/api/v1/namespaces/default/pods"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def api(plain_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=plain_server.url("hub"), timeout=10) as client:
        yield client


def pod(name: str, image: str = "nginx:1.27", port: int = 80, **spec: Any) -> dict[str, Any]:
    container = {"name": "web", "image": image, "ports": [{"containerPort": port}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [container], **spec},
    }


def causes(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["reason"] == "Invalid"
    return {c["field"]: c["message"] for c in status["details"]["causes"]}


@pytest.mark.kubectl
def test_kubectl_apply_changes_the_image_and_is_refused_a_port_change(kubectl: Kubectl) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    kubectl.run("apply", "-f", "-", input=json.dumps(pod(name)))
    kubectl.run("apply", "-f", "-", input=json.dumps(pod(name, image="nginx:1.28")))
    image = kubectl.run("get", "pod", name, "-o", "jsonpath={.spec.containers[0].image}").stdout
    assert image == "nginx:1.28"
    refused = kubectl.run(
        "apply", "-f", "-", input=json.dumps(pod(name, image="nginx:1.28", port=8080)), check=False
    )
    assert refused.returncode != 0
    assert f'The Pod "{name}" is invalid: spec: Forbidden: pod updates may not change fields other than' in (
        refused.stderr
    )
    assert "spec.containers" in refused.stderr  # which field changed
    refused = kubectl.run("label", "pod", name, "tier=web")  # metadata stays writable
    assert refused.returncode == 0


def test_node_name_changes_only_through_a_binding(api: httpx.Client) -> None:
    name = f"bind-{uuid.uuid4().hex[:6]}"
    assert api.post(PODS, json=pod(name)).status_code == 201
    message = causes(api.patch(f"{PODS}/{name}", json={"spec": {"nodeName": "n1"}}, headers=MERGE))["spec"]
    assert message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
    )
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"name": "n1"}}
    assert api.post(f"{PODS}/{name}/binding", json=binding).status_code == 201
    assert api.get(f"{PODS}/{name}").json()["spec"]["nodeName"] == "n1"


def test_containers_may_not_be_added_or_removed(api: httpx.Client) -> None:
    name = f"two-{uuid.uuid4().hex[:6]}"
    assert api.post(PODS, json=pod(name)).status_code == 201
    current = api.get(f"{PODS}/{name}").json()
    current["spec"]["containers"].append({"name": "side", "image": "busybox"})
    message = causes(api.put(f"{PODS}/{name}", json=current))["spec.containers"]
    assert message == "Forbidden: pod updates may not add or remove containers"


def test_deadline_may_only_shrink(api: httpx.Client) -> None:
    name = f"deadline-{uuid.uuid4().hex[:6]}"
    assert api.post(PODS, json=pod(name, activeDeadlineSeconds=60)).status_code == 201
    shorter = api.patch(f"{PODS}/{name}", json={"spec": {"activeDeadlineSeconds": 30}}, headers=MERGE)
    assert shorter.status_code == 200, shorter.text
    longer = api.patch(f"{PODS}/{name}", json={"spec": {"activeDeadlineSeconds": 90}}, headers=MERGE)
    assert causes(longer)["spec.activeDeadlineSeconds"].endswith(
        "must be less than or equal to previous value"
    )
    dropped = api.patch(f"{PODS}/{name}", json={"spec": {"activeDeadlineSeconds": None}}, headers=MERGE)
    assert (
        "must not update from a positive integer to nil value"
        in causes(dropped)["spec.activeDeadlineSeconds"]
    )


def test_tolerations_may_be_added_not_changed(api: httpx.Client) -> None:
    name = f"tol-{uuid.uuid4().hex[:6]}"
    first = {"key": "gpu", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}
    assert api.post(PODS, json=pod(name, tolerations=[first])).status_code == 201
    added = [
        {**first, "tolerationSeconds": 30},
        {"key": "spot", "operator": "Exists", "effect": "NoSchedule"},
    ]
    response = api.patch(f"{PODS}/{name}", json={"spec": {"tolerations": added}}, headers=MERGE)
    assert response.status_code == 200, response.text
    changed = [{"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoExecute"}]
    response = api.patch(f"{PODS}/{name}", json={"spec": {"tolerations": changed}}, headers=MERGE)
    assert causes(response)["spec.tolerations"].endswith("can not be modified except its tolerationSeconds")
