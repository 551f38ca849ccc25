"""Schemathesis against the API server's own OpenAPI documents: requests generated from every operation
of the core, apps and custom-resource group-versions never get a 500, and a refused request leaves the
store as it was.

Bounded for CI (``INFLEET_FUZZ_EXAMPLES`` examples per operation, default 4); ``make fuzz`` runs the
long mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.apiserver_harness import ServerThread
from tests.fuzz.openapi_fuzz import fuzz

GROUP_VERSIONS = ("api/v1", "apis/apps/v1", "apis/llm.example.com/v1alpha1")
CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "crd-modelserver.yaml").read_text())


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ServerThread(tmp_path_factory.mktemp("fuzz-openapi")) as server:
        url = server.url("hub")
        with httpx.Client(base_url=url, timeout=30) as client:
            created = client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
            assert created.status_code == 201, created.text
        yield url


def merged_document(url: str) -> dict[str, Any]:
    """One document holding the operations and schemas of :data:`GROUP_VERSIONS`."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for group_version in GROUP_VERSIONS:
            document = client.get(f"/openapi/v3/{group_version}").json()
            assert document["paths"], f"{group_version} serves no operations"
            paths.update(document["paths"])
            schemas.update(document["components"]["schemas"])
    for item in paths.values():
        for parameter in item.get("parameters", []):
            if parameter["name"] == "namespace":
                # Random namespaces would all answer 404 before any write logic runs.
                parameter["schema"] = {"type": "string", "enum": ["default", "kube-system", "absent"]}
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                # A watch streams until its timeout; the fuzz reads answers, not streams.
                operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "watch"]
    return {
        "openapi": "3.0.0",
        "info": {"title": "infleet api server", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def store_version(url: str) -> str:
    return str(httpx.get(f"{url}/api/v1/namespaces", timeout=30).json()["metadata"]["resourceVersion"])


def test_generated_requests_never_get_a_500_and_refusals_change_nothing(cluster_url: str) -> None:
    version = store_version(cluster_url)

    def check(case: Any, response: Any) -> None:
        nonlocal version
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{where}: {response.text[:500]}"
        if response.status_code >= 400:
            body = response.json()
            assert body["kind"] == "Status", where
            assert body["code"] == response.status_code, where
            assert store_version(cluster_url) == version, f"{where} was refused but changed the store"
        version = store_version(cluster_url)

    report = fuzz(merged_document(cluster_url), cluster_url, check)
    print(report.summary())
    assert report.failures == []
    assert report.statuses[200] + report.statuses[201] > 10, report.summary()
