"""Every Infleet CustomResourceDefinition, generated from the API types, and the files under deploy/crds.

``infleet crds`` (and ``make crds``) call :func:`write_crds`; a test checks the committed files equal
:func:`all_crds`. Each layer adds its kind to :func:`all_crds`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infleet.api.aitoolchain_io.v1 import model_deployment
from infleet.api.crd import custom_resource_definition, to_yaml


def all_crds() -> list[dict[str, Any]]:
    """The CRDs of all kinds, in a stable order."""
    return [
        custom_resource_definition(
            model_deployment.CRD_INFO,
            model_deployment.ModelDeploymentSpec,
            model_deployment.ModelDeploymentStatus,
        ),
    ]


def crd_files() -> dict[str, str]:
    """File name (``<group>_<plural>.yaml``, as controller-gen names them) to YAML text."""
    files = {}
    for crd in all_crds():
        spec = crd["spec"]
        files[f"{spec['group']}_{spec['names']['plural']}.yaml"] = to_yaml(crd)
    return files


def write_crds(directory: Path) -> list[Path]:
    """Write every CRD into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in crd_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
