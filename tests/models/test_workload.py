"""Rendered engine workloads: valid Kubernetes objects with the arguments each engine's docs expect."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from infleet.api.aitoolchain_io.v1.model_deployment import ModelDeploymentSpec
from infleet.api.catalog import load_catalog
from infleet.api.offerings import Offering
from infleet.api.sizing import SizingRequest, size, to_status
from infleet.models.workload import WorkloadInput, merge_template, render, startup_budget_seconds

OWNER = {
    "apiVersion": "aitoolchain.io/v1",
    "kind": "ModelDeployment",
    "metadata": {"name": "chat", "namespace": "team-a", "uid": "0f0e-uid"},
}


def workload(spec: dict[str, Any], sku: str = "L40S", per_node: int = 2, replicas: int = 3) -> WorkloadInput:
    parsed = ModelDeploymentSpec.model_validate(spec)
    catalog = load_catalog()
    model = catalog.model(parsed.model)
    offering = Offering(
        catalog.gpu(sku),
        per_node,
        "cluster",
        nodes=4,
        node_selector={"nvidia.com/gpu.product": f"NVIDIA-{sku}"},
    )
    gpus = parsed.resources.gpu if parsed.resources else None
    plan = size(SizingRequest(model, gpus=gpus), [offering])
    return WorkloadInput(
        OWNER,
        parsed,
        to_status(plan, model.name),
        model.name,
        model.served_name,
        model.size_on_disk_gib,
        replicas,
    )


def engine_container(obj: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return container


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def validate_all(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        kubernetes_validate.validate(obj, "1.32.0", strict=True)


def test_vllm_deployment_is_valid_and_carries_the_documented_flags() -> None:
    rendered = render(
        workload({"model": "qwen2-7b", "engine": "vllm", "replicas": 3, "resources": {"gpu": 2}})
    )
    validate_all(rendered.all())
    (deployment,) = rendered.deployments
    assert deployment["spec"]["replicas"] == 3
    container = engine_container(deployment)
    assert container["image"] == "vllm/vllm-openai:v0.11.0"
    assert container["command"] == ["vllm", "serve"]
    args = container["args"]
    assert args[0] == "Qwen/Qwen2-7B"  # vllm serve <model>
    assert flag(args, "--tensor-parallel-size") == "2"
    assert flag(args, "--served-model-name") == "qwen2-7b"
    assert flag(args, "--port") == "5000"
    assert flag(args, "--max-model-len") == "131072"
    assert "--enable-prompt-tokens-details" in args  # cached tokens in usage, for the gateway's prefix index
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L40S"}
    # Surge first and never take a serving pod away before its replacement is ready.
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    ref = deployment["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("ModelDeployment", "0f0e-uid", True)
    (service,) = rendered.services
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["selector"] == {"aitoolchain.io/model-deployment": "chat"}


def test_sglang_deployment_is_valid_and_uses_sglang_flags() -> None:
    spec = {
        "model": "qwen2-7b",
        "engine": "sglang",
        "resources": {"gpu": 2},
        "engineArgs": {"quantization": "fp8"},
    }
    rendered = render(workload(spec))
    validate_all(rendered.all())
    container = engine_container(rendered.deployments[0])
    assert container["command"] == ["python3", "-m", "sglang.launch_server"]
    args = container["args"]
    assert flag(args, "--model-path") == "Qwen/Qwen2-7B"
    assert flag(args, "--tp-size") == "2"
    assert flag(args, "--context-length") == "131072"
    assert flag(args, "--quantization") == "fp8"
    assert "--enable-metrics" in args


@pytest.mark.parametrize(("engine", "expected"), [("vllm", "fp8"), ("sglang", "fp8_e4m3"), ("sim", "fp8")])
def test_kv_cache_dtype_is_passed_in_the_engine_flags(engine: str, expected: str) -> None:
    spec = {
        "model": "qwen2-7b",
        "engine": engine,
        "resources": {"gpu": 1},
        "engineArgs": {"kvCacheDtype": "fp8"},
    }
    args = engine_container(render(workload(spec)).deployments[0])["args"]
    assert flag(args, "--kv-cache-dtype") == expected


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_multi_node_model_renders_one_statefulset_per_replica_group(engine: str) -> None:
    data = workload({"model": "meta-llama/Llama-3.1-405B-Instruct", "engine": engine}, "H100", 8, replicas=2)
    assert (data.sizing.nodes_per_replica, data.sizing.tensor_parallel, data.sizing.pipeline_parallel) == (
        2,
        8,
        2,
    )
    rendered = render(data)
    validate_all(rendered.all())
    assert [s["metadata"]["name"] for s in rendered.statefulsets] == ["chat-0", "chat-1"]
    group = rendered.statefulsets[0]
    assert group["spec"]["replicas"] == 2
    assert group["spec"]["serviceName"] == "chat-workers"
    container = engine_container(group)
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "8"}
    if engine == "vllm":
        script = container["command"][2]
        assert "ray start --head" in script
        assert "--pipeline-parallel-size 2" in script
        assert "--tensor-parallel-size 8" in script
        assert "ray start --address=chat-0-0.chat-workers:6379 --block" in script
    else:
        args = container["args"]
        assert (flag(args, "--tp-size"), flag(args, "--nnodes")) == ("16", "2")
        assert flag(args, "--node-rank") == "$(POD_INDEX)"
        assert flag(args, "--dist-init-addr") == "chat-0-0.chat-workers:20000"
    leader = next(s for s in rendered.services if s["metadata"]["name"] == "chat")
    assert leader["spec"]["selector"]["apps.kubernetes.io/pod-index"] == "0"


@pytest.mark.parametrize(
    ("engine", "command", "model_flag"),
    [("tgi", ["text-generation-launcher"], "--model-id"), ("sim", ["infleet", "engine-sim"], "--model")],
)
def test_other_engines(engine: str, command: list[str], model_flag: str) -> None:
    rendered = render(workload({"model": "qwen2-7b", "engine": engine, "resources": {"gpu": 2}}))
    validate_all(rendered.all())
    container = engine_container(rendered.deployments[0])
    assert container["command"] == command
    assert flag(container["args"], model_flag) == "Qwen/Qwen2-7B"


def test_token_adapters_cache_and_template_overrides() -> None:
    spec = {
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "hfTokenSecret": {"name": "hf"},
        "adapters": [{"name": "sql", "source": "hf:org/sql-lora"}, {"name": "ops", "image": "reg/ops:1"}],
        "weightsCache": {"persistentVolumeClaim": "weights"},
        "template": {"spec": {"containers": [{"name": "engine", "env": [{"name": "X", "value": "1"}]}]}},
        "rollout": {"maxSurge": "50%"},
    }
    rendered = render(workload(spec, "H100", 1, replicas=1))
    validate_all(rendered.all())
    deployment = rendered.deployments[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf", "key": "HF_TOKEN"}
    assert env["X"]["value"] == "1"  # merged by name into the engine container
    assert "--enable-lora" in container["args"]
    assert "sql=org/sql-lora" in container["args"]
    assert "ops=/mnt/adapters/ops" in container["args"]
    assert pod["initContainers"][0]["image"] == "reg/ops:1"
    assert {"name": "weights", "persistentVolumeClaim": {"claimName": "weights"}} in pod["volumes"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "50%"


def test_startup_budget_scales_with_model_size_within_bounds() -> None:
    assert startup_budget_seconds(14.96) == 30 * 60  # 15 min + 269 s < 30 min floor
    assert startup_budget_seconds(131.42) == 3265  # 900 s + 18 s x 131.42 = 3265.6 s (54 min)
    assert startup_budget_seconds(756.0) == 180 * 60  # 15 min + 227 min > 3 h ceiling
    probe = engine_container(
        render(workload({"model": "meta-llama/Llama-3.1-70B-Instruct"}, "H100", 8)).deployments[0]
    )
    assert probe["startupProbe"]["failureThreshold"] == 327  # ceil(3265 s / 10 s)


def test_merge_template_replaces_scalars_and_merges_named_lists() -> None:
    base = {"spec": {"containers": [{"name": "a", "image": "x"}], "priorityClassName": "low"}}
    merged = merge_template(
        base, {"spec": {"containers": [{"name": "b", "image": "y"}], "priorityClassName": "hi"}}
    )
    assert [c["name"] for c in merged["spec"]["containers"]] == ["a", "b"]
    assert merged["spec"]["priorityClassName"] == "hi"
    assert base["spec"]["priorityClassName"] == "low"
