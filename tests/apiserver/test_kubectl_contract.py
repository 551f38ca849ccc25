"""Contract tests: real kubectl (pinned 1.36 and the machine's own) against ``infleet apiserver``."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.apiserver_harness import Kubectl

pytestmark = pytest.mark.kubectl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def deployment(name: str, image: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {"name": "web", "image": image, "env": [{"name": "MODE", "value": "fast"}]},
                            {"name": "sidecar", "image": "busybox:1.36"},
                        ]
                    },
                },
            },
        }
    )


def model_server(name: str, replicas: int = 2, **labels: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "llm.example.com/v1alpha1",
            "kind": "ModelServer",
            "metadata": {"name": name, "labels": labels},
            "spec": {"model": "qwen2-7b", "replicas": replicas},
        }
    )


@pytest.fixture
def crd(kubectl: Kubectl) -> Kubectl:
    kubectl.run("apply", "-f", str(EXAMPLES / "crd-modelserver.yaml"))
    kubectl.run("wait", "--for=condition=Established", "crd/modelservers.llm.example.com", "--timeout=20s")
    return kubectl


def test_apply_crd_and_custom_resource_then_get_in_every_format(crd: Kubectl) -> None:
    name = unique("ms")
    out = crd.run("apply", "-f", "-", input=model_server(name)).stdout
    assert f"modelserver.llm.example.com/{name} created" in out
    table = crd.run("get", "modelservers", name).stdout.splitlines()
    assert table[0].split() == ["NAME", "MODEL", "REPLICAS", "READY", "AGE"]
    assert table[1].split()[:3] == [name, "qwen2-7b", "2"]
    as_yaml = yaml.safe_load(crd.run("get", "ms", name, "-o", "yaml").stdout)
    assert as_yaml["spec"] == {"model": "qwen2-7b", "replicas": 2, "engine": "vllm"}  # default applied
    assert as_yaml["metadata"]["generation"] == 1
    assert crd.run("get", "ms", name, "-o", "jsonpath={.spec.model}").stdout == "qwen2-7b"
    every_namespace = crd.run("get", "ms", "-A").stdout
    assert every_namespace.splitlines()[0].split()[0] == "NAMESPACE"
    assert name in every_namespace


def test_apply_rejects_unknown_fields_server_side(crd: Kubectl) -> None:
    document = yaml.safe_load(model_server(unique("ms")))
    document["spec"]["colour"] = "blue"
    result = crd.run("apply", "-f", "-", input=yaml.safe_dump(document), check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.colour"' in result.stderr


def test_schema_violation_names_the_field(crd: Kubectl) -> None:
    document = yaml.safe_load(model_server(unique("ms")))
    document["spec"]["replicas"] = -1
    result = crd.run("apply", "-f", "-", input=yaml.safe_dump(document), check=False)
    assert result.returncode != 0
    assert "spec.replicas" in result.stderr


def test_deployment_applied_twice_keeps_the_container_list_right(kubectl: Kubectl) -> None:
    name = unique("web")
    kubectl.run("apply", "-f", "-", input=deployment(name, "nginx:1.27"))
    out = kubectl.run("apply", "-f", "-", input=deployment(name, "nginx:1.28")).stdout
    assert "configured" in out
    stored = json.loads(kubectl.run("get", "deployment", name, "-o", "json").stdout)
    containers = stored["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("web", "nginx:1.28"),
        ("sidecar", "busybox:1.36"),
    ]
    assert containers[0]["env"] == [{"name": "MODE", "value": "fast"}]
    assert not any(key.startswith("$") for key in stored["spec"]["template"]["spec"])
    assert stored["metadata"]["generation"] == 2
    unchanged = kubectl.run("apply", "-f", "-", input=deployment(name, "nginx:1.28")).stdout
    assert "unchanged" in unchanged
    no_diff = kubectl.run("diff", "-f", "-", input=deployment(name, "nginx:1.28"), check=False)
    assert no_diff.returncode == 0, no_diff.stdout + no_diff.stderr
    diff = kubectl.run("diff", "-f", "-", input=deployment(name, "nginx:1.29"), check=False)
    assert diff.returncode == 1, diff.stderr
    assert "+        image: nginx:1.29" in diff.stdout


def test_label_selectors_label_and_annotate(crd: Kubectl) -> None:
    gold, silver = unique("gold"), unique("silver")
    crd.run("apply", "-f", "-", input=model_server(gold))
    crd.run("apply", "-f", "-", input=model_server(silver))
    tier = unique("tier")
    crd.run("label", "ms", gold, f"tier={tier}")
    crd.run("annotate", "ms", gold, "owner=search-team")
    selected = crd.run("get", "ms", "-l", f"tier={tier}", "-o", "name").stdout.split()
    assert selected == [f"modelserver.llm.example.com/{gold}"]
    excluded = crd.run("get", "ms", "-l", f"tier!={tier}", "-o", "name").stdout.split()
    assert f"modelserver.llm.example.com/{silver}" in excluded
    assert f"modelserver.llm.example.com/{gold}" not in excluded
    annotations = crd.run("get", "ms", gold, "-o", "jsonpath={.metadata.annotations.owner}").stdout
    assert annotations == "search-team"


def test_get_watch_sees_a_later_change(crd: Kubectl) -> None:
    name = unique("ms")
    crd.run("apply", "-f", "-", input=model_server(name))
    watcher = crd.start("get", "ms", name, "-w", "--request-timeout=20s")
    try:
        time.sleep(1.5)
        crd.run("patch", "ms", name, "--type=merge", "-p", '{"spec":{"replicas":7}}')
        deadline = time.monotonic() + 15
        lines: list[str] = []
        assert watcher.stdout is not None
        while time.monotonic() < deadline:
            line = watcher.stdout.readline()
            if not line:
                break
            lines.append(line)
            if any(" 7 " in f" {entry} " for entry in line.split()):
                break
        assert any(line.split()[:3] == [name, "qwen2-7b", "7"] for line in lines), lines
    finally:
        watcher.kill()
        watcher.wait()


def test_wait_for_condition_returns_when_status_patch_sets_it(crd: Kubectl) -> None:
    name = unique("ms")
    crd.run("apply", "-f", "-", input=model_server(name))
    waiter = crd.start("wait", "--for=condition=Ready", f"ms/{name}", "--timeout=30s")
    time.sleep(1.5)
    assert waiter.poll() is None, "wait must block until the condition is set"
    status = {
        "status": {"replicas": 2, "conditions": [{"type": "Ready", "status": "True", "reason": "Serving"}]}
    }
    crd.run("patch", "ms", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    out, err = waiter.communicate(timeout=20)
    assert waiter.returncode == 0, err
    assert "condition met" in out
    stored = json.loads(crd.run("get", "ms", name, "-o", "json").stdout)
    assert stored["status"]["replicas"] == 2
    assert stored["metadata"]["generation"] == 1  # status writes never bump generation


def test_status_subresource_ignores_spec_and_main_resource_ignores_status(crd: Kubectl) -> None:
    name = unique("ms")
    crd.run("apply", "-f", "-", input=model_server(name))
    crd.run(
        "patch",
        "ms",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"spec":{"replicas":9},"status":{"replicas":1}}',
    )
    crd.run("patch", "ms", name, "--type=merge", "-p", '{"status":{"replicas":5}}')
    stored = json.loads(crd.run("get", "ms", name, "-o", "json").stdout)
    assert stored["spec"]["replicas"] == 2
    assert stored["status"]["replicas"] == 1


def test_describe_shows_events(crd: Kubectl) -> None:
    name = unique("ms")
    crd.run("apply", "-f", "-", input=model_server(name))
    uid = crd.run("get", "ms", name, "-o", "jsonpath={.metadata.uid}").stdout
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.17a2b3c4d5e6f708", "namespace": "default"},
        "involvedObject": {
            "apiVersion": "llm.example.com/v1alpha1",
            "kind": "ModelServer",
            "name": name,
            "namespace": "default",
            "uid": uid,
        },
        "reason": "ReplicasReady",
        "message": "2 of 2 replicas serving",
        "type": "Normal",
        "source": {"component": "infleet-models"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }
    crd.run("create", "-f", "-", input=json.dumps(event))
    described = crd.run("describe", "ms", name).stdout
    assert "ReplicasReady" in described
    assert "2 of 2 replicas serving" in described
    assert "infleet-models" in described


def test_delete_waits_for_finalizer_removal(crd: Kubectl) -> None:
    name = unique("ms")
    crd.run("apply", "-f", "-", input=model_server(name))
    crd.run("patch", "ms", name, "--type=merge", "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    deleter = crd.start("delete", "ms", name, "--timeout=30s")
    time.sleep(2)
    assert deleter.poll() is None, "delete must wait while a finalizer remains"
    deleting = json.loads(crd.run("get", "ms", name, "-o", "json").stdout)
    assert deleting["metadata"]["deletionTimestamp"]
    crd.run("patch", "ms", name, "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    out, err = deleter.communicate(timeout=20)
    assert deleter.returncode == 0, err
    assert "deleted" in out
    gone = crd.run("get", "ms", name, check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


def test_explain_reads_the_crd_schema(crd: Kubectl) -> None:
    out = crd.run("explain", "modelservers.spec").stdout
    assert "model" in out
    assert "Model to serve, from the catalog." in out
    assert "replicas" in out


def test_server_side_apply_and_diff(crd: Kubectl) -> None:
    name = unique("ms")
    out = crd.run("apply", "--server-side", "-f", "-", input=model_server(name, replicas=3)).stdout
    assert "serverside-applied" in out
    assert crd.run("get", "ms", name, "-o", "jsonpath={.spec.replicas}").stdout == "3"
    same = crd.run("diff", "--server-side", "-f", "-", input=model_server(name, replicas=3), check=False)
    assert same.returncode == 0, same.stdout + same.stderr
    changed = crd.run("diff", "--server-side", "-f", "-", input=model_server(name, replicas=4), check=False)
    assert changed.returncode == 1, changed.stderr
    assert "+  replicas: 4" in changed.stdout
    assert crd.run("get", "ms", name, "-o", "jsonpath={.spec.replicas}").stdout == "3"  # diff changes nothing


def test_scale_subresource(crd: Kubectl) -> None:
    name = unique("ms")
    crd.run("apply", "-f", "-", input=model_server(name))
    crd.run("scale", "ms", name, "--replicas=6")
    assert crd.run("get", "ms", name, "-o", "jsonpath={.spec.replicas}").stdout == "6"


def test_contexts_reach_separate_clusters(kubectl: Kubectl) -> None:
    name = unique("cm")
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}
    kubectl.run("apply", "-f", "-", input=json.dumps(configmap))
    other = Kubectl(kubectl.binary, kubectl.kubeconfig, kubectl.cache_dir, context="infleet-us-east")
    assert other.run("get", "configmap", name, check=False).returncode != 0
    assert name in kubectl.run("get", "configmaps").stdout
