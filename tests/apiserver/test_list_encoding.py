"""Lists and watches are sent from each stored revision's cached JSON: the bytes must be exactly what
encoding the objects afresh gives, after every kind of write, across pages, versions and restarts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from infleet.apiserver import storage
from infleet.apiserver.http_responses import encoded_list
from infleet.apiserver.storage import ObjectStore, StaleEncodingError, checked_encoding
from tests.apiserver_harness import ServerThread

MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}


@pytest.fixture(scope="module")
def api(plain_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=plain_server.url("hub"), timeout=30) as client:
        yield client


@pytest.fixture
def namespace(api: httpx.Client) -> str:
    name = f"enc-{uuid.uuid4().hex[:6]}"
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    assert api.post("/api/v1/namespaces", json=body).status_code == 201
    return name


def configmap(name: str, app: str = "web", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": app}},
        "data": data,
    }


def canonical(raw: bytes) -> dict[str, Any]:
    """The decoded body, after checking it is byte for byte what encoding it afresh writes."""
    decoded: dict[str, Any] = orjson.loads(raw)
    assert orjson.dumps(decoded) == raw
    return decoded


def names(body: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in body["items"]]


@pytest.mark.parametrize("count", [0, 1, 2, 7])
def test_a_list_assembled_from_encoded_items_is_what_encoding_it_whole_writes(count: int) -> None:
    items = [{"metadata": {"name": f"o{i}", "labels": {"ü": "\u2028"}}, "n": i / 3} for i in range(count)]
    envelope = {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}}
    assembled = encoded_list(envelope, [orjson.dumps(item) for item in items])
    assert assembled == orjson.dumps({**envelope, "items": items})


def test_the_list_after_every_kind_of_write_serves_each_object_as_it_is_now(
    api: httpx.Client, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for name in ("a", "b", "c", "d", "e", "f"):
        assert api.post(path, json=configmap(name, value="0")).status_code == 201
    assert api.get(path).status_code == 200  # the list is cached from here on
    replaced = configmap("a", value="put")
    replaced["metadata"]["resourceVersion"] = api.get(f"{path}/a").json()["metadata"]["resourceVersion"]
    assert api.put(f"{path}/a", json=replaced).status_code == 200
    assert api.patch(f"{path}/b", json={"data": {"value": "merge"}}, headers=MERGE).status_code == 200
    patch = [{"op": "replace", "path": "/data/value", "value": "json"}]
    assert api.patch(f"{path}/c", json=patch, headers=JSON_PATCH).status_code == 200
    applied = api.patch(
        f"{path}/d",
        params={"fieldManager": "tester"},
        content=orjson.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"k": "v"}}
        ),
        headers=APPLY,
    )
    assert applied.status_code == 200, applied.text
    assert api.delete(f"{path}/e").status_code == 200
    listed = canonical(api.get(path).content)
    assert names(listed) == ["a", "b", "c", "d", "f"]
    for item in listed["items"]:
        assert item == api.get(f"{path}/{item['metadata']['name']}").json()
    values = {item["metadata"]["name"]: item["data"] for item in listed["items"]}
    assert values["a"] == {"value": "put"}
    assert values["b"] == {"value": "merge"}
    assert values["c"] == {"value": "json"}
    assert values["d"] == {"value": "0", "k": "v"}
    managers = {entry["manager"] for entry in listed["items"][3]["metadata"]["managedFields"]}
    assert "tester" in managers, "managedFields are listed with every object"


def test_pages_see_the_writes_made_between_them(api: httpx.Client, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(7):
        assert (
            api.post(path, json=configmap(f"cm-{i}", app="web" if i % 2 else "db", n=str(i))).status_code
            == 201
        )
    first = canonical(api.get(path, params={"limit": "3"}).content)
    assert names(first) == ["cm-0", "cm-1", "cm-2"]
    assert first["metadata"]["remainingItemCount"] == 4
    assert api.patch(f"{path}/cm-4", json={"data": {"n": "changed"}}, headers=MERGE).status_code == 200
    assert api.delete(f"{path}/cm-5").status_code == 200
    second = canonical(
        api.get(path, params={"limit": "3", "continue": first["metadata"]["continue"]}).content
    )
    assert names(second) == ["cm-3", "cm-4", "cm-6"]
    assert second["items"][1]["data"] == {"n": "changed"}
    assert "continue" not in second["metadata"]
    assert "remainingItemCount" not in second["metadata"]
    web = canonical(api.get(path, params={"labelSelector": "app=web", "limit": "1"}).content)
    assert names(web) == ["cm-1"]
    assert web["metadata"]["remainingItemCount"] == 1
    rest = canonical(
        api.get(path, params={"labelSelector": "app=web", "continue": web["metadata"]["continue"]}).content
    )
    assert names(rest) == ["cm-3"]
    by_name = canonical(api.get(path, params={"fieldSelector": "metadata.name=cm-4"}).content)
    assert names(by_name) == ["cm-4"]
    assert by_name["items"][0]["data"] == {"n": "changed"}
    not_after = api.get(
        path, params={"fieldSelector": "metadata.name=cm-0", "continue": first["metadata"]["continue"]}
    )
    assert names(canonical(not_after.content)) == [], "cm-0 comes before where the continue token resumes"


def test_a_list_of_another_version_is_converted_and_encoded_for_it(api: httpx.Client, namespace: str) -> None:
    v1 = f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers"
    v2 = f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers"
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    body = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": target, "maxReplicas": 4, "targetCPUUtilizationPercentage": 60},
    }
    assert api.post(v1, json=body).status_code == 201
    as_v1 = canonical(api.get(v1).content)
    as_v2 = canonical(api.get(v2).content)
    assert [item["apiVersion"] for item in as_v1["items"]] == ["autoscaling/v1"]
    assert as_v1["items"][0]["spec"]["targetCPUUtilizationPercentage"] == 60
    assert [item["apiVersion"] for item in as_v2["items"]] == ["autoscaling/v2"]
    assert as_v2["items"][0]["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_watch_events_carry_the_stored_bytes_of_each_revision(api: httpx.Client, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    assert api.post(path, json=configmap("before", value="0")).status_code == 201
    rv = orjson.loads(api.get(path).content)["metadata"]["resourceVersion"]
    assert api.post(path, json=configmap("w", value="1")).status_code == 201
    assert api.patch(f"{path}/w", json={"data": {"value": "2"}}, headers=MERGE).status_code == 200
    assert api.delete(f"{path}/w").status_code == 200
    for params, expected in (
        ({"resourceVersion": rv}, [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]),
        ({}, [("ADDED", "0")]),
    ):
        lines: list[bytes] = []
        buffer = b""
        with api.stream("GET", path, params={"watch": "true", "timeoutSeconds": "2", **params}) as response:
            for chunk in response.iter_bytes():
                buffer += chunk
                *done, buffer = buffer.split(b"\n")
                lines.extend(done)
                if len(lines) >= len(expected):
                    break
        events = [canonical(line) for line in lines[: len(expected)]]
        assert [(event["type"], event["object"]["data"]["value"]) for event in events] == expected


def test_a_stored_object_changed_in_place_is_caught_not_served(tmp_path: Path) -> None:
    assert storage.CHECK_ENCODINGS, "these tests run with the encoding check on"
    store = ObjectStore(tmp_path / "db", on_commit=lambda changes: None)
    store.open()
    try:
        obj: dict[str, Any] = {
            "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "default", "resourceVersion": "1"},
        }
        store.write("configmaps", "default", "a", obj, store.next_resource_version())
        window = store.window("configmaps", "default", None, 0)
        assert checked_encoding(window.objects[0], window.encodings[0]) == orjson.dumps(obj)
        obj["data"] = {"sneaked": "in"}  # what no write path may do
        with pytest.raises(StaleEncodingError, match="ConfigMap default/a at resourceVersion 1"):
            checked_encoding(window.objects[0], window.encodings[0])
    finally:
        store.close()


async def test_objects_read_back_from_disk_are_encoded_as_when_written(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "db", on_commit=lambda changes: None)
    store.open()
    objects = [{"metadata": {"name": f"o{i}"}, "x": i / 7, "s": "é\u2028"} for i in range(3)]
    try:
        for i, obj in enumerate(objects):
            await store.persist(store.write("cm", "", f"o{i}", obj, store.next_resource_version()))
        written = store.window("cm", None, None, 0)
    finally:
        store.close()
    reopened = ObjectStore(tmp_path / "db", on_commit=lambda changes: None)
    reopened.open()
    try:
        read = reopened.window("cm", None, None, 0)
        assert read.encodings == written.encodings == [orjson.dumps(obj) for obj in objects]
        page = reopened.window("cm", None, ("", "o0"), 1)
        assert page.objects == objects[1:2]
        assert page.remaining == 1
    finally:
        reopened.close()
