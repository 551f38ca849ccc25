"""Real kubectl against the built-in kinds a Helm-style chart uses: apply, list, prune, delete, the
columns kube-apiserver prints, ``auth can-i`` / ``auth whoami``, ``api-resources``, ``cluster-info dump``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from tests.apiserver_harness import Kubectl

pytestmark = pytest.mark.kubectl

CHART = Path(__file__).resolve().parent / "fixtures" / "web-chart.yaml"
CHART_OBJECTS = [
    "serviceaccount/web",
    "role.rbac.authorization.k8s.io/web-reader",
    "rolebinding.rbac.authorization.k8s.io/web-reader",
    "deployment.apps/web",
    "service/web",
    "poddisruptionbudget.policy/web",
    "horizontalpodautoscaler.autoscaling/web",
    "ingress.networking.k8s.io/web",
    "job.batch/web-migrate",
]


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    """A fresh namespace (applied: ``kubectl create namespace`` sends a protobuf body)."""
    name = f"chart-{uuid.uuid4().hex[:6]}"
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    kubectl.run("apply", "-f", "-", input=json.dumps(manifest))
    return name


def headers(kubectl: Kubectl, *args: str) -> list[str]:
    """The column titles of ``kubectl get`` (two-word titles kept whole)."""
    first = kubectl.run("get", *args).stdout.splitlines()[0]
    return [title.strip() for title in first.split("  ") if title.strip()]


def test_helm_style_chart_applies_lists_prunes_and_deletes(kubectl: Kubectl, namespace: str) -> None:
    applied = kubectl.run("apply", "-n", namespace, "-f", str(CHART)).stdout
    for name in CHART_OBJECTS:
        assert f"{name} created" in applied

    listed = kubectl.run(
        "get",
        "-n",
        namespace,
        "sa,rs,job,cronjob,pdb,hpa,ingress,endpointslices,pvc,role,clusterrole,rolebinding,"
        "priorityclass,resourcequota",
        "-o",
        "name",
    ).stdout.split()
    for name in CHART_OBJECTS:
        if not name.startswith(("deployment", "service/")):
            assert name in listed

    # The chart's next release drops the migration Job: --prune deletes labelled objects not applied.
    documents = [doc for doc in yaml.safe_load_all(CHART.read_text()) if doc["kind"] != "Job"]
    pruned = kubectl.run(
        "apply",
        "-n",
        namespace,
        "--prune",
        "-l",
        "app=web-chart",
        "-f",
        "-",
        input=yaml.safe_dump_all(documents),
    )
    assert "job.batch/web-migrate pruned" in pruned.stdout
    missing = kubectl.run("get", "-n", namespace, "job", "web-migrate", check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr

    deleted = kubectl.run("delete", "-n", namespace, "-f", str(CHART), "--ignore-not-found").stdout
    for name in CHART_OBJECTS[:-1]:
        kind, _, object_name = name.partition("/")
        assert f'{kind} "{object_name}" deleted' in deleted
    left = kubectl.run("get", "-n", namespace, "sa,role,rolebinding,deploy,svc,pdb,hpa,ingress", "-o", "name")
    assert left.stdout.split() == ["serviceaccount/default"]  # the namespace's own, not the chart's


def test_columns_are_kube_apiservers(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(CHART))
    assert headers(kubectl, "-n", namespace, "jobs") == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert headers(kubectl, "-n", namespace, "jobs", "-o", "wide")[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert headers(kubectl, "-n", namespace, "deploy", "-o", "wide") == [
        "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"
    ]  # fmt: skip
    assert headers(kubectl, "-n", namespace, "svc", "-o", "wide") == [
        "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"
    ]  # fmt: skip
    assert headers(kubectl, "-n", namespace, "hpa") == [
        "NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"
    ]  # fmt: skip
    assert headers(kubectl, "-n", namespace, "pdb") == [
        "NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"
    ]  # fmt: skip
    assert headers(kubectl, "-n", namespace, "ingress") == [
        "NAME",
        "CLASS",
        "HOSTS",
        "ADDRESS",
        "PORTS",
        "AGE",
    ]
    assert headers(kubectl, "-n", namespace, "rolebinding", "-o", "wide") == [
        "NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"
    ]  # fmt: skip
    assert headers(kubectl, "-n", namespace, "role") == ["NAME", "CREATED AT"]
    assert headers(kubectl, "-n", namespace, "sa") == ["NAME", "SECRETS", "AGE"]

    rows = {
        line.split()[0]: line.split()
        for line in kubectl.run("get", "-n", namespace, "all").stdout.splitlines()
        if line.strip()
    }
    assert rows["job.batch/web-migrate"][1:3] == ["Running", "0/1"]
    assert rows["horizontalpodautoscaler.autoscaling/web"][1:6] == [
        "Deployment/web",
        "cpu:",
        "<unknown>/70%",
        "2",
        "5",
    ]
    service = kubectl.run("get", "-n", namespace, "svc", "web", "-o", "wide").stdout.splitlines()[1].split()
    assert service[1] == "ClusterIP"
    assert service[3] == "<none>"
    assert service[4] == "80/TCP"
    assert service[-1] == "app=web-chart,component=web"
    binding = kubectl.run(
        "get", "-n", namespace, "rolebinding", "web-reader", "-o", "wide"
    ).stdout.splitlines()[1]
    assert binding.split()[1] == "Role/web-reader"
    assert binding.split()[-1] == "/web"


def test_pod_wide_columns_match_kube_apiserver(kubectl: Kubectl, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "one"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox:1.36"}],
            "readinessGates": [{"conditionType": "x"}],
        },
    }
    kubectl.run("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))
    assert headers(kubectl, "-n", namespace, "pods", "-o", "wide") == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"
    ]  # fmt: skip
    row = kubectl.run("get", "-n", namespace, "pod", "one", "-o", "wide").stdout.splitlines()[1].split()
    assert row[1:4] == ["0/1", "Pending", "0"]
    assert row[-4:] == ["<none>", "<none>", "<none>", "0/1"]


def test_auth_can_i_and_whoami_answer_for_the_admin(kubectl: Kubectl) -> None:
    assert kubectl.run("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    assert kubectl.run("auth", "can-i", "delete", "deployments", "-n", "kube-system").stdout.strip() == "yes"
    assert kubectl.run("auth", "can-i", "get", "/healthz").stdout.strip() == "yes"
    whoami = kubectl.run("auth", "whoami", "-o", "json").stdout
    assert json.loads(whoami)["status"]["userInfo"] == {
        "username": "infleet-admin",
        "groups": ["system:masters", "system:authenticated"],
    }
    rules = kubectl.run("auth", "can-i", "--list").stdout
    assert "*.*" in rules


def test_api_resources_lists_the_builtin_kinds(kubectl: Kubectl) -> None:
    table = kubectl.run("api-resources", "-o", "name").stdout.split()
    for name in (
        "serviceaccounts",
        "persistentvolumeclaims",
        "persistentvolumes",
        "resourcequotas",
        "limitranges",
        "replicasets.apps",
        "daemonsets.apps",
        "controllerrevisions.apps",
        "jobs.batch",
        "cronjobs.batch",
        "horizontalpodautoscalers.autoscaling",
        "poddisruptionbudgets.policy",
        "ingresses.networking.k8s.io",
        "ingressclasses.networking.k8s.io",
        "networkpolicies.networking.k8s.io",
        "endpointslices.discovery.k8s.io",
        "storageclasses.storage.k8s.io",
        "priorityclasses.scheduling.k8s.io",
        "roles.rbac.authorization.k8s.io",
        "clusterroles.rbac.authorization.k8s.io",
        "rolebindings.rbac.authorization.k8s.io",
        "clusterrolebindings.rbac.authorization.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectreviews.authentication.k8s.io",
    ):
        assert name in table


def test_cluster_info_dump_reads_every_kind_it_wants(kubectl: Kubectl, tmp_path: Path) -> None:
    result = kubectl.run("cluster-info", "dump", "--output-directory", str(tmp_path / "dump"), timeout=120)
    assert result.returncode == 0
    assert (tmp_path / "dump" / "default" / "replicasets.json").exists()


def test_immutable_fields_are_refused_with_kube_apiservers_message(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(CHART))
    documents = list(yaml.safe_load_all(CHART.read_text()))
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    deployment["spec"]["selector"]["matchLabels"]["component"] = "api"
    deployment["spec"]["template"]["metadata"]["labels"]["component"] = "api"
    moved = kubectl.run("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(deployment), check=False)
    assert moved.returncode != 0
    assert 'The Deployment "web" is invalid: spec.selector: Invalid value' in moved.stderr
    assert "field is immutable" in moved.stderr

    deployment["metadata"]["name"] = "mismatch"
    deployment["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    mismatch = kubectl.run("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(deployment), check=False)
    assert (
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        "`selector` does not match template `labels`" in mismatch.stderr
    )

    readdress = kubectl.run(
        "patch", "-n", namespace, "svc", "web", "-p", '{"spec":{"clusterIP":"10.96.0.99"}}', check=False
    )
    assert (
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set'
        in readdress.stderr
    )

    rebind = kubectl.run(
        "patch", "-n", namespace, "rolebinding", "web-reader", "--type=merge", "-p",
        '{"roleRef":{"name":"other"}}', check=False,
    )  # fmt: skip
    assert "roleRef: Invalid value" in rebind.stderr
    assert "cannot change roleRef" in rebind.stderr

    retemplate = kubectl.run(
        "set", "image", "-n", namespace, "job/web-migrate", "migrate=busybox:1.37", check=False
    )
    assert retemplate.returncode != 0
    assert 'Job "web-migrate" is invalid' in retemplate.stderr
    assert "spec.template: Invalid value" in retemplate.stderr
