"""How long a simulated container takes to pull, start and become ready, and how long it runs.

Engine pods: image pull (vLLM-size images), weight download on a node's first load of a model, then
streaming load at ~1.92 GiB/s per GPU (inference-engines.md §6.5) plus engine start-up. Plain
containers run until deleted, unless ``sim.infleet.io/run-seconds`` says how long their command runs;
a Job's pods run :data:`JOB_RUN_SECONDS` by default. Pod annotations override each phase; a node's
``image-pull-factor`` fault slows its pulls. All in unscaled seconds.
"""

from __future__ import annotations

from typing import Any

from infleet.api.catalog import CatalogError, load_catalog
from infleet.api.labels import (
    IMAGE_PULL_SECONDS_ANNOTATION,
    MODEL_LOAD_SECONDS_ANNOTATION,
    READY_SECONDS_ANNOTATION,
    RUN_SECONDS_ANNOTATION,
)
from infleet.sim.settings import SimSettings


def _annotation_seconds(pod: dict[str, Any], key: str) -> float | None:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(key)
    if value is None:
        return None
    try:
        return max(0.0, float(str(value).rstrip("s")))
    except ValueError:
        return None


def image_pull_seconds(pod: dict[str, Any], engine: bool, settings: SimSettings, factor: float) -> float:
    explicit = _annotation_seconds(pod, IMAGE_PULL_SECONDS_ANNOTATION)
    base = (
        explicit
        if explicit is not None
        else (settings.engine_image_pull_seconds if engine else settings.image_pull_seconds)
    )
    return base * factor


def model_size_gib(model: str) -> float:
    try:
        return load_catalog().model(model).size_on_disk_gib
    except CatalogError:
        return 2.0  # an unknown model loads like a small one


def model_load_seconds(
    pod: dict[str, Any], model: str, gpus: int, cached: bool, settings: SimSettings
) -> float:
    """Weight download (skipped when the node has the model cached) + streaming load + engine init."""
    explicit = _annotation_seconds(pod, MODEL_LOAD_SECONDS_ANNOTATION)
    if explicit is not None:
        return explicit
    size = model_size_gib(model)
    download = 0.0 if cached else size / settings.weight_download_gib_per_second
    load = size / (settings.weight_load_gib_per_second_per_gpu * max(1, gpus))
    return download + load + settings.engine_init_seconds


def ready_seconds(pod: dict[str, Any]) -> float:
    """A plain container is ready after its readiness probe's initial delay (or the annotation)."""
    explicit = _annotation_seconds(pod, READY_SECONDS_ANNOTATION)
    if explicit is not None:
        return explicit
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    probe = containers[0].get("readinessProbe") or {}
    return float(probe.get("initialDelaySeconds", 0))


JOB_RUN_SECONDS = 10.0  # how long a Job's container runs when its pod does not say


def run_seconds(pod: dict[str, Any]) -> float | None:
    """How long a plain container runs before its command exits, or None when it runs until stopped."""
    explicit = _annotation_seconds(pod, RUN_SECONDS_ANNOTATION)
    if explicit is not None:
        return explicit
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    if any(ref.get("kind") == "Job" and ref.get("controller") for ref in owners):
        return JOB_RUN_SECONDS
    return None


def restart_backoff(restarts: int, settings: SimSettings) -> float:
    """Kubelet's CrashLoopBackOff: 10 s doubling to 5 min."""
    return float(
        min(
            settings.restart_backoff_seconds * 2 ** max(0, restarts - 1), settings.restart_backoff_max_seconds
        )
    )
