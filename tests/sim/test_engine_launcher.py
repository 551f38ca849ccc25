"""Which pods get an engine, which model they serve, and how long they take to load."""

from __future__ import annotations

from typing import Any

import pytest

from infleet.sim import pod_timing
from infleet.sim.engine_launcher import container_port, engine_model, is_engine_pod
from infleet.sim.settings import SimSettings


def pod(image: str, annotations: dict[str, str] | None = None, **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"annotations": annotations or {}},
        "spec": {"containers": [{"image": image, **container}]},
    }


@pytest.mark.parametrize(
    ("image", "engine"),
    [
        ("vllm/vllm-openai:v0.11.0", True),
        ("lmsysorg/sglang:latest", True),
        ("ghcr.io/huggingface/text-generation-inference:3", True),
        ("nginx:1.27", False),
    ],
)
def test_engine_images(image: str, engine: bool) -> None:
    assert is_engine_pod(pod(image)) is engine


def test_annotation_overrides_the_image() -> None:
    assert is_engine_pod(pod("nginx", {"sim.infleet.io/engine": "true"}))
    assert not is_engine_pod(pod("vllm/vllm-openai", {"sim.infleet.io/engine": "false"}))


@pytest.mark.parametrize(
    ("container", "model"),
    [
        ({"args": ["--model", "Qwen/Qwen3-8B"]}, "Qwen/Qwen3-8B"),
        ({"args": ["--model=Qwen/Qwen3-8B", "--port", "8000"]}, "Qwen/Qwen3-8B"),
        ({"command": ["vllm", "serve", "microsoft/phi-4"]}, "microsoft/phi-4"),
        ({"env": [{"name": "MODEL_ID", "value": "google/gemma-3-4b-it"}]}, "google/gemma-3-4b-it"),
        ({}, "unknown-model"),
    ],
)
def test_model_is_found_where_engines_take_it(container: dict[str, Any], model: str) -> None:
    assert engine_model(pod("vllm/vllm-openai", **container)) == model


def test_container_port_defaults_to_vllm_port() -> None:
    assert container_port({"ports": [{"containerPort": 5000}]}) == 5000
    assert container_port({}) == 8000


def test_model_load_grows_with_size_and_shrinks_with_gpus_and_cache() -> None:
    settings = SimSettings()
    small = pod_timing.model_load_seconds(pod("v"), "meta-llama/Llama-3.1-8B-Instruct", 1, False, settings)
    large = pod_timing.model_load_seconds(pod("v"), "meta-llama/Llama-3.1-70B-Instruct", 1, False, settings)
    assert large > small
    assert (
        pod_timing.model_load_seconds(pod("v"), "meta-llama/Llama-3.1-70B-Instruct", 4, False, settings)
        < large
    )
    assert (
        pod_timing.model_load_seconds(pod("v"), "meta-llama/Llama-3.1-70B-Instruct", 1, True, settings)
        < large
    )
    explicit = pod("v", {"sim.infleet.io/model-load-seconds": "7"})
    assert (
        pod_timing.model_load_seconds(explicit, "meta-llama/Llama-3.1-70B-Instruct", 1, False, settings) == 7
    )


def test_image_pull_is_slowed_by_the_node_fault_and_backoff_caps() -> None:
    settings = SimSettings()
    assert (
        pod_timing.image_pull_seconds(pod("v"), True, settings, 10) == 10 * settings.engine_image_pull_seconds
    )
    assert (
        pod_timing.image_pull_seconds(
            pod("v", {"sim.infleet.io/image-pull-seconds": "3s"}), True, settings, 1
        )
        == 3
    )
    assert [pod_timing.restart_backoff(n, settings) for n in (1, 2, 3)] == [10, 20, 40]
    assert pod_timing.restart_backoff(20, settings) == 300
