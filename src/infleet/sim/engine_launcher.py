"""The engine hook: how the simulated kubelet starts an inference engine for a pod, and which pods get one.

The kubelet calls :class:`EngineLauncher` ``start`` when an engine container starts and ``stop`` when it
ends. ``start`` is asked to listen on the pod's IP (a loopback address on Linux) and the container's
port, and returns where it really listens; the kubelet records that as the pod's address. Swap in the
full simulated engine by passing another launcher to :class:`infleet.sim.kubelet.Kubelet`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from infleet.api.labels import ENGINE_KIND_ANNOTATION, ENGINE_MODEL_ANNOTATION

_ENGINE_IMAGES = re.compile(r"(vllm|sglang|text-generation-inference|infleet[-/]engine|llm-d)", re.IGNORECASE)
DEFAULT_ENGINE_PORT = 8000


@dataclass(frozen=True)
class EngineEndpoint:
    host: str
    port: int


@dataclass(frozen=True)
class EngineSpec:
    """What the kubelet knows of an engine container when it starts it."""

    namespace: str
    pod: str
    uid: str
    container: str
    image: str
    model: str
    gpus: int
    host: str
    port: int
    # The engine container's arguments and the node's GPU product label, for engines that model them.
    args: tuple[str, ...] = ()
    gpu_product: str = ""


class EngineLauncher(Protocol):
    async def start(self, spec: EngineSpec) -> EngineEndpoint:
        """Start an engine for the pod; listen on ``spec.host:spec.port`` if possible."""
        ...

    async def stop(self, uid: str) -> None:
        """Stop the pod's engine (no-op when none runs)."""
        ...

    async def close(self) -> None:
        """Stop every engine."""
        ...


def is_engine_pod(pod: dict[str, Any]) -> bool:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if ENGINE_KIND_ANNOTATION in annotations:
        return str(annotations[ENGINE_KIND_ANNOTATION]).lower() == "true"
    containers = (pod.get("spec") or {}).get("containers") or []
    return bool(containers) and bool(_ENGINE_IMAGES.search(str(containers[0].get("image", ""))))


def engine_model(pod: dict[str, Any]) -> str:
    """The served model: annotation, ``--model`` argument, ``serve <model>``, or MODEL_ID/MODEL_NAME env."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if annotations.get(ENGINE_MODEL_ANNOTATION):
        return str(annotations[ENGINE_MODEL_ANNOTATION])
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    words = [str(w) for w in (containers[0].get("command") or []) + (containers[0].get("args") or [])]
    for index, word in enumerate(words):
        if word.startswith(("--model=", "--model-id=", "--model-path=")):
            return word.split("=", 1)[1]
        following = words[index + 1] if index + 1 < len(words) else "-"
        if word in ("--model", "--model-id", "--model-path", "serve") and not following.startswith("-"):
            return following
    for env in containers[0].get("env") or []:
        if env.get("name") in ("MODEL_ID", "MODEL_NAME", "MODEL") and env.get("value"):
            return str(env["value"])
    return "unknown-model"


def container_port(container: dict[str, Any]) -> int:
    ports = container.get("ports") or []
    return int(ports[0].get("containerPort", DEFAULT_ENGINE_PORT)) if ports else DEFAULT_ENGINE_PORT
