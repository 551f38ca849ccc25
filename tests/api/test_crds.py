"""Generated CRDs: the committed files match the types; kubectl accepts the issue's manifest as written."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from infleet.api.aitoolchain_io.v1.model_deployment import ModelDeploymentSpec
from infleet.api.crds import crd_files
from tests.apiserver_harness import Kubectl, ServerThread

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = """\
apiVersion: aitoolchain.io/v1
kind: ModelDeployment
metadata:
  name: qwen2-7b
spec:
  model: qwen2-7b
  engine: vllm
  replicas: 3
  resources:
    gpu: 2
"""


def test_committed_crds_equal_the_generated_ones() -> None:
    committed = {path.name: path.read_text() for path in (ROOT / "deploy" / "crds").glob("*.yaml")}
    assert committed == crd_files(), "run `make crds` (infleet crds) and commit deploy/crds"


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    binary = Path(sys.executable).parent / "kubectl"
    if not binary.exists():
        pytest.skip("the pinned kubectl is not installed")
    data = tmp_path_factory.mktemp("api")
    with ServerThread(data) as server:
        kubectl = Kubectl(str(binary), server.kubeconfig, data / "cache")
        kubectl.run("apply", "-f", str(ROOT / "deploy" / "crds"))
        kubectl.run("wait", "--for=condition=Established", "crd/modeldeployments.aitoolchain.io")
        yield kubectl


@pytest.mark.kubectl
def test_minimal_manifest_is_accepted_as_written_and_defaulted(kubectl: Kubectl) -> None:
    kubectl.run("apply", "-f", "-", input=MINIMAL)
    obj = json.loads(kubectl.run("get", "modeldeployment", "qwen2-7b", "-o", "json").stdout)
    assert obj["spec"] == {"model": "qwen2-7b", "engine": "vllm", "replicas": 3, "resources": {"gpu": 2}}
    table = kubectl.run("get", "md").stdout.splitlines()
    assert table[0].split() == ["NAME", "MODEL", "ENGINE", "GPU", "READY", "STATUS", "AGE"]
    assert table[1].split()[:3] == ["qwen2-7b", "qwen2-7b", "vllm"]
    scale = json.loads(kubectl.run("get", "--raw", _scale_path("qwen2-7b")).stdout)
    assert scale["spec"]["replicas"] == 3
    kubectl.run("scale", "modeldeployment/qwen2-7b", "--replicas=1")
    assert json.loads(kubectl.run("get", "md", "qwen2-7b", "-o", "json").stdout)["spec"]["replicas"] == 1


@pytest.mark.kubectl
def test_kubectl_explain_reads_the_field_descriptions(kubectl: Kubectl) -> None:
    text = kubectl.run("explain", "modeldeployment.spec.resources").stdout
    assert "GPUs per replica; omit to size from the model and the SKUs." in text
    assert "gpuSkus\t<[]string>" in text


@pytest.mark.kubectl
@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples").glob("modeldeployment-*.yaml")), ids=lambda p: p.name
)
def test_examples_are_accepted_and_parse_as_the_types(kubectl: Kubectl, path: Path) -> None:
    kubectl.run("apply", "--dry-run=server", "-f", str(path))
    ModelDeploymentSpec.model_validate(yaml.safe_load(path.read_text())["spec"])


@pytest.mark.kubectl
@pytest.mark.parametrize(
    ("spec", "field", "hint"),
    [
        ({"engine": "vllm"}, "spec.model", "Required value"),
        ({"model": "x", "engine": "triton"}, "spec.engine", '"vllm"'),
        ({"model": "x", "replicas": -1}, "spec.replicas", "greater than or equal to 0"),
        ({"model": "x", "resources": {"gpu": 0}}, "spec.resources.gpu", "greater than or equal to 1"),
    ],
)
def test_invalid_manifests_are_refused_naming_the_field(
    kubectl: Kubectl, spec: dict[str, object], field: str, hint: str
) -> None:
    manifest = {"apiVersion": "aitoolchain.io/v1", "kind": "ModelDeployment", "metadata": {"name": "bad"}}
    result = kubectl.run("apply", "-f", "-", input=yaml.safe_dump({**manifest, "spec": spec}), check=False)
    assert result.returncode != 0
    assert field in result.stderr, result.stderr
    assert hint in result.stderr, result.stderr


def _scale_path(name: str) -> str:
    return f"/apis/aitoolchain.io/v1/namespaces/default/modeldeployments/{name}/scale"
