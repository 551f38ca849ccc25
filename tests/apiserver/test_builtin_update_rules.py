"""Update validation of built-in kinds over HTTP: immutable fields answer 422 Invalid with the cause
kube-apiserver names; defaults a user sees; autoscaling v1 and v2 views of one HorizontalPodAutoscaler;
self reviews answered and not stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apiserver_harness import ServerThread

MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def api(plain_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=plain_server.url("hub"), timeout=10) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def refused(response: httpx.Response, field: str) -> str:
    """The message of the one cause on ``field`` of a 422 Invalid answer."""
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["reason"] == "Invalid"
    messages = [c["message"] for c in status["details"]["causes"] if c.get("field") == field]
    assert messages, status
    return str(messages[0])


def deployment(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "i:1"}]},
            },
        },
    }


DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def test_workload_selector_is_immutable_and_must_select_the_template(api: httpx.Client) -> None:
    name = unique("d")
    create(api, DEPLOYMENTS, deployment(name, "a"))
    patch = {
        "spec": {
            "selector": {"matchLabels": {"app": "b"}},
            "template": {"metadata": {"labels": {"app": "b"}}},
        }
    }
    message = refused(api.patch(f"{DEPLOYMENTS}/{name}", json=patch, headers=MERGE), "spec.selector")
    assert message.endswith("field is immutable")
    # Scaling and a new template are still fine.
    assert (
        api.patch(f"{DEPLOYMENTS}/{name}", json={"spec": {"replicas": 3}}, headers=MERGE).status_code == 200
    )

    mismatched = deployment(unique("d"), "a")
    mismatched["spec"]["template"]["metadata"]["labels"] = {"app": "z"}
    message = refused(api.post(DEPLOYMENTS, json=mismatched), "spec.template.metadata.labels")
    assert (
        message == 'Invalid value: map[string]string{"app":"z"}: `selector` does not match template `labels`'
    )


def test_replicaset_and_daemonset_keep_their_selector(api: httpx.Client) -> None:
    for plural, kind in (("replicasets", "ReplicaSet"), ("daemonsets", "DaemonSet")):
        body = {**deployment(unique("w"), "a"), "kind": kind}
        path = f"/apis/apps/v1/namespaces/default/{plural}"
        created = create(api, path, body)
        patch = {
            "spec": {
                "selector": {"matchLabels": {"app": "b"}},
                "template": {"metadata": {"labels": {"app": "b"}}},
            }
        }
        response = api.patch(f"{path}/{created['metadata']['name']}", json=patch, headers=MERGE)
        assert refused(response, "spec.selector").endswith("field is immutable")


def test_statefulset_spec_is_frozen_but_for_the_mutable_fields(api: httpx.Client) -> None:
    body = {**deployment(unique("s"), "a"), "kind": "StatefulSet"}
    body["spec"]["serviceName"] = "one"
    path = "/apis/apps/v1/namespaces/default/statefulsets"
    name = create(api, path, body)["metadata"]["name"]
    assert api.patch(f"{path}/{name}", json={"spec": {"replicas": 4}}, headers=MERGE).status_code == 200
    message = refused(
        api.patch(f"{path}/{name}", json={"spec": {"serviceName": "two"}}, headers=MERGE), "spec"
    )
    assert message.startswith("Forbidden: updates to statefulset spec for fields other than 'replicas'")


def test_service_cluster_ip_may_not_change_and_survives_a_replace(api: httpx.Client) -> None:
    path = "/api/v1/namespaces/default/services"
    name = unique("svc")
    created = create(
        api,
        path,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"ports": [{"port": 80}]},
        },
    )
    allocated = created["spec"]["clusterIP"]
    message = refused(
        api.patch(
            f"{path}/{name}", json={"spec": {"clusterIP": "10.96.0.99", "clusterIPs": None}}, headers=MERGE
        ),
        "spec.clusterIPs[0]",
    )
    assert message == 'Invalid value: []string{"10.96.0.99"}: may not change once set'
    replaced = {**created, "spec": {"ports": [{"port": 81}]}}
    response = api.put(f"{path}/{name}", json=replaced)
    assert response.status_code == 200, response.text
    assert response.json()["spec"]["clusterIP"] == allocated


def test_job_gets_a_generated_selector_and_its_template_is_immutable(api: httpx.Client) -> None:
    path = "/apis/batch/v1/namespaces/default/jobs"
    name = unique("job")
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i:1"}]}}
    job = create(
        api,
        path,
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"template": template}},
    )
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == name
    assert (job["spec"]["completions"], job["spec"]["parallelism"], job["spec"]["backoffLimit"]) == (1, 1, 6)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:2"}]}}}}
    response = api.patch(
        f"{path}/{name}", json=patch, headers={"Content-Type": "application/strategic-merge-patch+json"}
    )
    assert refused(response, "spec.template").endswith("field is immutable")
    assert api.patch(f"{path}/{name}", json={"spec": {"suspend": True}}, headers=MERGE).status_code == 200

    always = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": unique("job")},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
    }
    message = refused(api.post(path, json=always), "spec.template.spec.restartPolicy")
    assert message == 'Unsupported value: "Always": supported values: "OnFailure", "Never"'


def test_cronjob_schedule_is_checked(api: httpx.Client) -> None:
    path = "/apis/batch/v1/namespaces/default/cronjobs"
    template = {
        "spec": {
            "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]}}
        }
    }
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": unique("cj")},
        "spec": {"schedule": "every minute", "jobTemplate": template},
    }
    assert "expected exactly 5 fields, found 2" in refused(api.post(path, json=body), "spec.schedule")
    body["spec"]["schedule"] = "*/5 * * * *"
    created = create(api, path, body)
    assert created["spec"]["concurrencyPolicy"] == "Allow"
    assert created["spec"]["successfulJobsHistoryLimit"] == 3


@pytest.mark.parametrize(("plural", "kind"), [("configmaps", "ConfigMap"), ("secrets", "Secret")])
def test_immutable_configmaps_and_secrets_keep_their_data(api: httpx.Client, plural: str, kind: str) -> None:
    path = f"/api/v1/namespaces/default/{plural}"
    name = unique(plural[:3])
    create(
        api,
        path,
        {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": name},
            "data": {"k": "dg=="},
            "immutable": True,
        },
    )
    message = refused(api.patch(f"{path}/{name}", json={"data": {"k": "dw=="}}, headers=MERGE), "data")
    assert message == "Forbidden: field is immutable when `immutable` is set"
    message = refused(api.patch(f"{path}/{name}", json={"immutable": False}, headers=MERGE), "immutable")
    assert message == "Forbidden: field is immutable when `immutable` is set"
    labelled = api.patch(f"{path}/{name}", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)
    assert labelled.status_code == 200


def test_claim_spec_is_immutable_but_for_the_requested_size(api: httpx.Client) -> None:
    path = "/api/v1/namespaces/default/persistentvolumeclaims"
    name = unique("pvc")
    claim = create(
        api,
        path,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"]["phase"] == "Pending"
    grown = {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    assert api.patch(f"{path}/{name}", json=grown, headers=MERGE).status_code == 200
    response = api.patch(f"{path}/{name}", json={"spec": {"accessModes": ["ReadWriteMany"]}}, headers=MERGE)
    assert refused(response, "spec").startswith("Forbidden: spec is immutable after creation")


def test_role_binding_role_ref_cannot_change(api: httpx.Client) -> None:
    path = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
    name = unique("rb")
    binding = create(
        api,
        path,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"},
            "subjects": [{"kind": "User", "name": "alice"}],
        },
    )
    assert binding["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    response = api.patch(f"{path}/{name}", json={"roleRef": {"name": "b"}}, headers=MERGE)
    assert refused(response, "roleRef").endswith("cannot change roleRef")


def test_hpa_is_one_object_seen_as_v2_and_v1(api: httpx.Client) -> None:
    v1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"
    v2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers"
    name = unique("hpa")
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    created = create(
        api,
        v1,
        {
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": target, "maxReplicas": 4, "targetCPUUtilizationPercentage": 60},
        },
    )
    assert created["apiVersion"] == "autoscaling/v1"
    assert created["spec"]["targetCPUUtilizationPercentage"] == 60
    assert created["spec"]["minReplicas"] == 1
    as_v2 = api.get(f"{v2}/{name}").json()
    assert as_v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
        }
    ]
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}},
    }
    as_v2["spec"]["metrics"].append(memory)
    assert api.put(f"{v2}/{name}", json=as_v2).status_code == 200
    # A v1 client's read-modify-write keeps what only v2 can say.
    as_v1 = api.get(f"{v1}/{name}").json()
    as_v1["spec"]["maxReplicas"] = 6
    assert api.put(f"{v1}/{name}", json=as_v1).status_code == 200
    again = api.get(f"{v2}/{name}").json()
    assert again["spec"]["maxReplicas"] == 6
    assert memory in again["spec"]["metrics"]
    assert "annotations" not in again["metadata"]


def test_self_reviews_answer_allowed_for_the_admin_and_store_nothing(api: httpx.Client) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "resource": "pods", "namespace": "default"}},
    }
    response = api.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=review)
    assert response.status_code == 201
    assert response.json()["status"]["allowed"] is True
    assert response.json()["spec"] == review["spec"]
    empty = {**review, "spec": {}}
    message = refused(
        api.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=empty),
        "spec.resourceAttributes",
    )
    assert "exactly one of nonResourceAttributes or resourceAttributes" in message
    assert api.get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").status_code == 405
    who = api.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={})
    assert who.status_code == 201
    assert who.json()["status"]["userInfo"]["username"] == "infleet-admin"
