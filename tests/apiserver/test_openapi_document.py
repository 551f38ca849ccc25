"""The served OpenAPI documents are complete enough for generic tools: every path parameter declared,
operation ids unique, every reference resolvable, list and error responses described."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apiserver_harness import ServerThread

_PLACEHOLDER = re.compile(r"{([^}]+)}")
_METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    with (
        ServerThread(tmp_path_factory.mktemp("openapi")) as server,
        httpx.Client(base_url=server.url("hub"), timeout=30) as client,
    ):
        index = client.get("/openapi/v3").json()["paths"]
        yield {path: client.get(entry["serverRelativeURL"]).json() for path, entry in index.items()}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in _METHODS:
            if method in item:
                yield path, method, item, item[method]


def test_every_path_parameter_is_declared(documents: dict[str, dict[str, Any]]) -> None:
    missing = []
    checked = 0
    for document in documents.values():
        for path, method, item, operation in operations(document):
            declared = {
                parameter["name"]
                for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]
                if parameter["in"] == "path"
            }
            checked += 1
            missing += [
                f"{method} {path}: {{{name}}}" for name in _PLACEHOLDER.findall(path) if name not in declared
            ]
    assert checked > 60
    assert missing == []


def test_operation_ids_are_unique_within_each_document(documents: dict[str, dict[str, Any]]) -> None:
    for group_version, document in documents.items():
        ids = [operation["operationId"] for *_, operation in operations(document)]
        duplicated = sorted({operation_id for operation_id in ids if ids.count(operation_id) > 1})
        assert duplicated == [], group_version


def test_every_reference_resolves(documents: dict[str, dict[str, Any]]) -> None:
    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for group_version, document in documents.items():
        schemas = document["components"]["schemas"]
        unresolved = {ref for ref in refs(document) if ref.rsplit("/", 1)[-1] not in schemas}
        assert unresolved == set(), group_version


def test_lists_answer_a_list_schema_and_errors_a_status(documents: dict[str, dict[str, Any]]) -> None:
    core = documents["api/v1"]
    listing = core["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["get"]
    ok = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("ConfigMapList")
    error = listing["responses"]["default"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("meta.v1.Status")
    names = {parameter["name"] for parameter in listing["parameters"]}
    assert {"labelSelector", "fieldSelector", "limit", "continue"} <= names
    scale = documents["apis/apps/v1"]["paths"][
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"
    ]
    assert scale["get"]["operationId"] == "readAppsV1NamespacedDeploymentScale"
