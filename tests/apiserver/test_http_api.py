"""Protocol tests over HTTP: the Kubernetes semantics clients rely on, status codes included."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from infleet.apiserver.watch import WatchHub
from tests.apiserver_harness import ServerThread

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "crd-modelserver.yaml").read_text())
MS = "/apis/llm.example.com/v1alpha1/namespaces/default/modelservers"
CM = "/api/v1/namespaces/default/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def api(plain_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=plain_server.url("hub"), timeout=10) as client:
        response = client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
        assert response.status_code in (201, 409), response.text
        yield client


def model_server(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "llm.example.com/v1alpha1",
        "kind": "ModelServer",
        "metadata": {"name": name},
        "spec": {"model": "qwen2-7b", **spec},
    }


def create(api: httpx.Client, name: str, **spec: Any) -> dict[str, Any]:
    response = api.post(MS, json=model_server(name, **spec))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def watch_lines(
    api: httpx.Client, path: str, params: dict[str, str], count: int, timeout: float = 10
) -> list[dict[str, Any]]:
    """Read ``count`` events of a watch (or fewer when it ends first)."""
    events: list[dict[str, Any]] = []
    with api.stream("GET", path, params={"watch": "true", **params}, timeout=timeout) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                events.append(json.loads(line))
            if len(events) >= count:
                break
    return events


class TestMetadataAndVersions:
    def test_create_sets_server_fields_and_refuses_a_resource_version(self, api: httpx.Client) -> None:
        body = create(api, unique("ms"))
        metadata = body["metadata"]
        assert uuid.UUID(metadata["uid"])
        assert metadata["generation"] == 1
        assert metadata["creationTimestamp"].endswith("Z")
        assert int(metadata["resourceVersion"]) > 0
        with_rv = model_server(unique("ms"))
        with_rv["metadata"]["resourceVersion"] = "5"
        assert api.post(MS, json=with_rv).status_code == 400

    def test_resource_versions_increase_across_resources(self, api: httpx.Client) -> None:
        first = int(create(api, unique("ms"))["metadata"]["resourceVersion"])
        cm = api.post(CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": unique("cm")}})
        second = int(cm.json()["metadata"]["resourceVersion"])
        third = int(create(api, unique("ms"))["metadata"]["resourceVersion"])
        assert first < second < third

    def test_duplicate_create_is_409_already_exists(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name)
        response = api.post(MS, json=model_server(name))
        assert response.status_code == 409
        assert response.json()["reason"] == "AlreadyExists"

    def test_generate_name(self, api: httpx.Client) -> None:
        body = model_server("")
        body["metadata"] = {"generateName": "gen-"}
        created = api.post(MS, json=body).json()
        assert created["metadata"]["name"].startswith("gen-")
        assert len(created["metadata"]["name"]) == len("gen-") + 5

    @pytest.mark.parametrize("name", ["UPPER", "under_score", "-leading", "a" * 254])
    def test_invalid_names_are_422_naming_metadata_name(self, api: httpx.Client, name: str) -> None:
        response = api.post(MS, json=model_server(name))
        assert response.status_code == 422
        assert response.json()["details"]["causes"][0]["field"] == "metadata.name"

    def test_missing_namespace_is_404_and_namespace_mismatch_is_400(self, api: httpx.Client) -> None:
        missing = api.post(MS.replace("/default/", "/nowhere/"), json=model_server(unique("ms")))
        assert missing.status_code == 404
        assert missing.json()["details"]["kind"] == "namespaces"
        body = model_server(unique("ms"))
        body["metadata"]["namespace"] = "kube-system"
        assert api.post(MS, json=body).status_code == 400

    def test_generation_bumps_on_spec_change_only(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name, replicas=1)
        labelled = api.patch(f"{MS}/{name}", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE).json()
        assert labelled["metadata"]["generation"] == 1
        scaled = api.patch(f"{MS}/{name}", json={"spec": {"replicas": 3}}, headers=MERGE).json()
        assert scaled["metadata"]["generation"] == 2
        status = api.patch(f"{MS}/{name}/status", json={"status": {"replicas": 3}}, headers=MERGE).json()
        assert status["metadata"]["generation"] == 2

    def test_noop_update_keeps_the_resource_version(self, api: httpx.Client) -> None:
        name = unique("ms")
        created = create(api, name)
        again = api.put(f"{MS}/{name}", json=created).json()
        assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


class TestUpdatesAndPatches:
    def test_put_with_stale_resource_version_is_409_conflict(self, api: httpx.Client) -> None:
        name = unique("ms")
        created = create(api, name)
        created["spec"]["replicas"] = 2
        assert api.put(f"{MS}/{name}", json=created).status_code == 200
        created["spec"]["replicas"] = 3
        stale = api.put(f"{MS}/{name}", json=created)
        assert stale.status_code == 409
        assert stale.json()["reason"] == "Conflict"

    def test_put_of_missing_custom_resource_is_404(self, api: httpx.Client) -> None:
        assert api.put(f"{MS}/nothing-here", json=model_server("nothing-here")).status_code == 404

    def test_json_patch_test_operation_guards_concurrent_writers(self, api: httpx.Client) -> None:
        name = unique("ms")
        rv = create(api, name)["metadata"]["resourceVersion"]
        ops = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/x"]},
        ]
        assert api.patch(f"{MS}/{name}", json=ops, headers=JSON_PATCH).status_code == 200
        again = api.patch(f"{MS}/{name}", json=ops, headers=JSON_PATCH)
        assert again.status_code == 422
        assert api.patch(f"{MS}/{name}", content=b"[{", headers=JSON_PATCH).status_code == 400

    def test_strategic_merge_patch_is_415_for_custom_resources(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name)
        response = api.patch(
            f"{MS}/{name}",
            json={"spec": {"replicas": 2}},
            headers={"Content-Type": "application/strategic-merge-patch+json"},
        )
        assert response.status_code == 415
        assert "application/merge-patch+json" in response.json()["message"]

    def test_strategic_merge_patch_merges_containers_by_name(self, api: httpx.Client) -> None:
        name = unique("pod")
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]},
        }
        assert api.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201
        patch = {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}
        response = api.patch(
            f"/api/v1/namespaces/default/pods/{name}",
            json=patch,
            headers={"Content-Type": "application/strategic-merge-patch+json"},
        )
        assert response.status_code == 200, response.text
        images = [(c["name"], c["image"]) for c in response.json()["spec"]["containers"]]
        assert images == [("a", "a:1"), ("b", "b:2")]

    def test_apply_patch_creates_with_201_and_needs_a_field_manager(self, api: httpx.Client) -> None:
        name = unique("ms")
        body = yaml.safe_dump(model_server(name, replicas=4))
        headers = {"Content-Type": "application/apply-patch+yaml"}
        assert api.patch(f"{MS}/{name}", content=body, headers=headers).status_code == 400
        created = api.patch(f"{MS}/{name}", params={"fieldManager": "me"}, content=body, headers=headers)
        assert created.status_code == 201
        managers = [entry["manager"] for entry in created.json()["metadata"]["managedFields"]]
        assert "me" in managers
        updated = api.patch(
            f"{MS}/{name}",
            params={"fieldManager": "me"},
            content=yaml.safe_dump(model_server(name, replicas=5)),
            headers=headers,
        )
        assert updated.status_code == 200
        assert updated.json()["spec"]["replicas"] == 5

    def test_unknown_patch_type_is_415(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name)
        assert (
            api.patch(f"{MS}/{name}", content=b"{}", headers={"Content-Type": "text/plain"}).status_code
            == 415
        )

    def test_dry_run_validates_without_storing(self, api: httpx.Client) -> None:
        name = unique("ms")
        assert api.post(MS, params={"dryRun": "All"}, json=model_server(name)).status_code == 201
        assert api.get(f"{MS}/{name}").status_code == 404


class TestValidation:
    def test_field_validation_modes(self, api: httpx.Client) -> None:
        body = model_server(unique("ms"))
        body["spec"]["colour"] = "blue"
        strict = api.post(MS, params={"fieldValidation": "Strict"}, json=body)
        assert strict.status_code == 400
        assert 'unknown field "spec.colour"' in strict.json()["message"]
        warned = api.post(MS, params={"fieldValidation": "Warn"}, json=body)
        assert warned.status_code == 201
        assert "colour" not in warned.json()["spec"]
        assert 'unknown field \\"spec.colour\\"' in warned.headers["warning"]
        assert api.post(MS, params={"fieldValidation": "Bogus"}, json=body).status_code == 400

    def test_schema_violations_are_422_with_field_paths(self, api: httpx.Client) -> None:
        response = api.post(MS, json=model_server(unique("ms"), replicas="three", engine="tgi"))
        assert response.status_code == 422
        fields = {cause["field"] for cause in response.json()["details"]["causes"]}
        assert {"spec.replicas", "spec.engine"} <= fields
        missing = model_server(unique("ms"))
        del missing["spec"]["model"]
        required = api.post(MS, json=missing)
        assert required.status_code == 422
        assert required.json()["details"]["causes"][0]["field"] == "spec.model"

    def test_malformed_bodies_are_400_never_500(self, api: httpx.Client) -> None:
        for content in (b"{", b"[1,2]", b"\xff\xfe", b"null", b'"text"'):
            response = api.post(MS, content=content, headers={"Content-Type": "application/json"})
            assert response.status_code == 400, (content, response.text)
            assert response.json()["kind"] == "Status"

    def test_wrong_kind_is_400(self, api: httpx.Client) -> None:
        body = model_server(unique("ms"))
        body["kind"] = "Deployment"
        assert api.post(MS, json=body).status_code == 400

    def test_oversized_body_is_413(self, api: httpx.Client) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": unique("big")},
            "data": {"blob": "x" * (4 * 1024 * 1024)},
        }
        response = api.post(CM, json=body)
        assert response.status_code == 413
        assert response.json()["reason"] == "RequestEntityTooLarge"

    def test_unknown_resource_and_cluster_are_404(
        self, api: httpx.Client, plain_server: ServerThread
    ) -> None:
        assert api.get("/apis/llm.example.com/v1alpha1/namespaces/default/widgets").status_code == 404
        other = httpx.get(plain_server.server.base_url + "/clusters/mars/api/v1/namespaces")
        assert other.status_code == 404
        assert "mars" in other.json()["message"]

    def test_builtin_kinds_are_validated_against_kubernetes_schemas(self, api: httpx.Client) -> None:
        bad = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": unique("d")},
            "spec": {"replicas": "two", "selector": {}, "template": {}},
        }
        response = api.post("/apis/apps/v1/namespaces/default/deployments", json=bad)
        assert response.status_code == 422
        assert "spec.replicas" in {c["field"] for c in response.json()["details"]["causes"]}


class TestListsAndSelectors:
    def test_list_has_kind_api_version_and_resource_version(self, api: httpx.Client) -> None:
        create(api, unique("ms"))
        body = api.get(MS).json()
        assert body["kind"] == "ModelServerList"
        assert body["apiVersion"] == "llm.example.com/v1alpha1"
        assert int(body["metadata"]["resourceVersion"]) > 0
        assert all(item["kind"] == "ModelServer" for item in body["items"])

    def test_label_and_field_selectors(self, api: httpx.Client) -> None:
        team = unique("team")
        names = [unique("ms") for _ in range(3)]
        for index, name in enumerate(names):
            body = model_server(name)
            body["metadata"]["labels"] = {"team": team, "tier": "gold" if index == 0 else "silver"}
            assert api.post(MS, json=body).status_code == 201
        selected = api.get(MS, params={"labelSelector": f"team={team},tier in (gold)"}).json()["items"]
        assert [item["metadata"]["name"] for item in selected] == [names[0]]
        by_name = api.get(MS, params={"fieldSelector": f"metadata.name={names[1]}"}).json()["items"]
        assert [item["metadata"]["name"] for item in by_name] == [names[1]]
        assert api.get(MS, params={"fieldSelector": "spec.model=x"}).status_code == 400
        assert api.get(MS, params={"labelSelector": "team in (("}).status_code == 400

    def test_pagination_with_continue(self, api: httpx.Client) -> None:
        team = unique("page")
        for _ in range(7):
            body = model_server(unique("ms"))
            body["metadata"]["labels"] = {"page": team}
            api.post(MS, json=body)
        seen: list[str] = []
        params = {"labelSelector": f"page={team}", "limit": "3"}
        page = api.get(MS, params=params).json()
        assert page["metadata"]["remainingItemCount"] == 4
        seen += [item["metadata"]["name"] for item in page["items"]]
        while page["metadata"].get("continue"):
            page = api.get(MS, params={**params, "continue": page["metadata"]["continue"]}).json()
            seen += [item["metadata"]["name"] for item in page["items"]]
        assert len(seen) == 7
        assert len(set(seen)) == 7
        assert api.get(MS, params={"continue": "garbage"}).status_code == 400

    def test_all_namespaces_list(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name)
        items = api.get("/apis/llm.example.com/v1alpha1/modelservers").json()["items"]
        assert name in {item["metadata"]["name"] for item in items}

    def test_table_output_uses_printer_columns(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name, replicas=2)
        table = api.get(
            MS,
            params={"fieldSelector": f"metadata.name={name}"},
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        )
        assert table.headers["content-type"].startswith("application/json;as=Table")
        body = table.json()
        assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Model", "Replicas", "Ready", "Age"]
        assert body["rows"][0]["cells"][:3] == [name, "qwen2-7b", 2]
        assert body["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


class TestWatch:
    def test_watch_from_resource_version_sees_only_later_events(self, api: httpx.Client) -> None:
        name = unique("ms")
        rv = create(api, name)["metadata"]["resourceVersion"]
        api.patch(f"{MS}/{name}", json={"spec": {"replicas": 4}}, headers=MERGE)
        events = watch_lines(api, MS, {"resourceVersion": rv, "fieldSelector": f"metadata.name={name}"}, 1)
        assert events[0]["type"] == "MODIFIED"
        assert events[0]["object"]["spec"]["replicas"] == 4

    def test_watch_without_resource_version_starts_with_synthetic_added(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name)
        events = watch_lines(api, MS, {"fieldSelector": f"metadata.name={name}"}, 1)
        assert events[0]["type"] == "ADDED"
        assert events[0]["object"]["metadata"]["name"] == name

    def test_watch_too_old_resource_version_gets_410_error_event(self, tmp_path: Path) -> None:
        with ServerThread(tmp_path) as server, httpx.Client(base_url=server.url("hub"), timeout=10) as client:
            server.server.clusters["hub"].hub = WatchHub(window=5)
            first = client.post(
                CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c0"}}
            )
            for index in range(1, 10):
                client.post(
                    CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{index}"}}
                )
            events = watch_lines(
                client, CM, {"resourceVersion": first.json()["metadata"]["resourceVersion"]}, 1
            )
            assert events[0]["type"] == "ERROR"
            assert events[0]["object"]["code"] == 410
            assert events[0]["object"]["reason"] == "Expired"
            recent = client.get(CM).json()["metadata"]["resourceVersion"]
            assert watch_lines(client, CM, {"resourceVersion": recent, "timeoutSeconds": "1"}, 1) == []

    def test_send_initial_events_ends_with_annotated_bookmark(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name)
        params = {
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
            "fieldSelector": f"metadata.name={name}",
        }
        events = watch_lines(api, MS, params, 2)
        assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
        assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        invalid = api.get(MS, params={"watch": "true", "sendInitialEvents": "true"})
        assert invalid.status_code == 422

    def test_watch_accepts_go_style_booleans_and_times_out(self, api: httpx.Client) -> None:
        started = time.monotonic()
        rv = api.get(MS).json()["metadata"]["resourceVersion"]
        with api.stream(
            "GET", MS, params={"watch": "True", "resourceVersion": rv, "timeoutSeconds": "1"}
        ) as response:
            assert response.status_code == 200
            list(response.iter_lines())
        assert time.monotonic() - started < 5

    def test_bookmarks_are_sent_when_allowed(self, api: httpx.Client) -> None:
        rv = api.get(MS).json()["metadata"]["resourceVersion"]
        events = watch_lines(
            api,
            MS,
            {"resourceVersion": rv, "allowWatchBookmarks": "true", "fieldSelector": "metadata.name=nobody"},
            1,
        )
        assert events[0]["type"] == "BOOKMARK"
        assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)

    def test_selector_transitions(self, api: httpx.Client) -> None:
        name = unique("ms")
        rv = create(api, name)["metadata"]["resourceVersion"]
        label = unique("sel")
        api.patch(f"{MS}/{name}", json={"metadata": {"labels": {"sel": label}}}, headers=MERGE)
        api.patch(f"{MS}/{name}", json={"spec": {"replicas": 2}}, headers=MERGE)
        api.patch(f"{MS}/{name}", json={"metadata": {"labels": {"sel": None}}}, headers=MERGE)
        events = watch_lines(api, MS, {"resourceVersion": rv, "labelSelector": f"sel={label}"}, 3)
        assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
        assert events[2]["object"]["metadata"]["labels"] == {"sel": label}  # the old state

    def test_live_watch_receives_writes_made_after_it_started(self, api: httpx.Client) -> None:
        name = unique("ms")
        rv = api.get(MS).json()["metadata"]["resourceVersion"]
        received: list[dict[str, Any]] = []

        def watch() -> None:
            received.extend(
                watch_lines(api, MS, {"resourceVersion": rv, "fieldSelector": f"metadata.name={name}"}, 3)
            )

        thread = threading.Thread(target=watch)
        thread.start()
        time.sleep(0.3)
        create(api, name)
        api.patch(f"{MS}/{name}", json={"spec": {"replicas": 3}}, headers=MERGE)
        api.delete(f"{MS}/{name}")
        thread.join(10)
        assert [e["type"] for e in received] == ["ADDED", "MODIFIED", "DELETED"]
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in received]
        assert versions == sorted(versions)


class TestDeletion:
    def test_finalizers_hold_deletion_until_removed(self, api: httpx.Client) -> None:
        name = unique("ms")
        body = model_server(name)
        body["metadata"]["finalizers"] = ["example.com/hold"]
        api.post(MS, json=body)
        deleting = api.delete(f"{MS}/{name}")
        assert deleting.status_code == 200
        assert deleting.json()["metadata"]["deletionTimestamp"]
        assert api.delete(f"{MS}/{name}").status_code == 200  # a second delete changes nothing
        added = api.patch(
            f"{MS}/{name}", json={"metadata": {"finalizers": ["example.com/hold", "x.io/new"]}}, headers=MERGE
        )
        assert added.status_code == 422
        api.patch(f"{MS}/{name}", json={"metadata": {"finalizers": None}}, headers=MERGE)
        assert api.get(f"{MS}/{name}").status_code == 404

    def test_delete_preconditions(self, api: httpx.Client) -> None:
        name = unique("ms")
        create(api, name)
        response = api.request("DELETE", f"{MS}/{name}", json={"preconditions": {"uid": "not-the-uid"}})
        assert response.status_code == 409
        assert (
            api.request("DELETE", f"{MS}/{name}", json={"propagationPolicy": "Sideways"}).status_code == 400
        )

    def test_background_garbage_collection_of_dependents(self, api: httpx.Client) -> None:
        owner = create(api, unique("owner"))
        child = model_server(unique("child"))
        child["metadata"]["ownerReferences"] = [owner_reference(owner)]
        api.post(MS, json=child)
        config = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": unique("cm"), "ownerReferences": child["metadata"]["ownerReferences"]},
        }
        api.post(CM, json=config)
        api.request("DELETE", f"{MS}/{owner['metadata']['name']}", json={"propagationPolicy": "Background"})
        assert eventually(lambda: api.get(f"{MS}/{child['metadata']['name']}").status_code == 404)
        assert eventually(lambda: api.get(f"{CM}/{config['metadata']['name']}").status_code == 404)

    def test_foreground_deletion_removes_dependents_first(self, api: httpx.Client) -> None:
        owner = create(api, unique("owner"))
        child = model_server(unique("child"))
        child["metadata"]["ownerReferences"] = [owner_reference(owner, blockOwnerDeletion=True)]
        child["metadata"]["finalizers"] = ["example.com/slow"]
        api.post(MS, json=child)
        owner_path = f"{MS}/{owner['metadata']['name']}"
        child_path = f"{MS}/{child['metadata']['name']}"
        deleting = api.request("DELETE", owner_path, json={"propagationPolicy": "Foreground"}).json()
        assert "foregroundDeletion" in deleting["metadata"]["finalizers"]
        assert eventually(lambda: bool(api.get(child_path).json()["metadata"].get("deletionTimestamp")))
        assert api.get(owner_path).status_code == 200  # waits for its dependent
        api.patch(child_path, json={"metadata": {"finalizers": None}}, headers=MERGE)
        assert eventually(lambda: api.get(owner_path).status_code == 404)

    def test_a_terminating_dependent_still_finishes_once_its_owner_is_gone(self, api: httpx.Client) -> None:
        # A member agent deletes an applied namespace, then the AppliedWork that owns it: the namespace
        # must still be emptied and removed, not left Terminating behind a dead owner.
        owner = create(api, unique("owner"))
        namespace = unique("ns")
        api.post(
            "/api/v1/namespaces",
            json={
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "ownerReferences": [owner_reference(owner)]},
            },
        )
        held = f"/api/v1/namespaces/{namespace}/configmaps/held"
        config = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "held", "finalizers": ["example.com/slow"]},
        }
        api.post(f"/api/v1/namespaces/{namespace}/configmaps", json=config)
        api.delete(f"/api/v1/namespaces/{namespace}")
        assert eventually(lambda: bool(api.get(held).json()["metadata"].get("deletionTimestamp")))
        api.request("DELETE", f"{MS}/{owner['metadata']['name']}", json={"propagationPolicy": "Background"})
        assert eventually(lambda: api.get(f"{MS}/{owner['metadata']['name']}").status_code == 404)
        api.patch(held, json={"metadata": {"finalizers": None}}, headers=MERGE)
        assert eventually(lambda: api.get(f"/api/v1/namespaces/{namespace}").status_code == 404, 5)

    def test_orphan_deletion_keeps_dependents_without_the_owner_reference(self, api: httpx.Client) -> None:
        owner = create(api, unique("owner"))
        child = model_server(unique("child"))
        child["metadata"]["ownerReferences"] = [owner_reference(owner)]
        api.post(MS, json=child)
        api.request("DELETE", f"{MS}/{owner['metadata']['name']}", json={"propagationPolicy": "Orphan"})
        assert eventually(lambda: api.get(f"{MS}/{owner['metadata']['name']}").status_code == 404)
        kept = api.get(f"{MS}/{child['metadata']['name']}").json()
        assert "ownerReferences" not in kept["metadata"]

    def test_namespace_deletion_empties_it_and_refuses_new_content(self, api: httpx.Client) -> None:
        namespace = unique("ns")
        api.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        holder = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
        }
        assert api.post(path, json=holder).status_code == 201
        api.delete(f"/api/v1/namespaces/{namespace}")
        terminating = api.get(f"/api/v1/namespaces/{namespace}").json()
        assert terminating["status"]["phase"] == "Terminating"
        refused = api.post(path, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}})
        assert refused.status_code == 403
        assert eventually(lambda: bool(api.get(f"{path}/held").json()["metadata"].get("deletionTimestamp")))
        api.patch(f"{path}/held", json={"metadata": {"finalizers": None}}, headers=MERGE)
        assert eventually(lambda: api.get(f"/api/v1/namespaces/{namespace}").status_code == 404)


class TestCustomResourceDefinitions:
    def test_crd_lifecycle_feeds_discovery_openapi_and_cleans_up(self, api: httpx.Client) -> None:
        group = f"{uuid.uuid4().hex[:6]}.example.com"
        crd = json.loads(json.dumps(CRD))
        crd["metadata"]["name"] = f"widgets.{group}"
        crd["spec"]["group"] = group
        crd["spec"]["names"] = {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wg"],
        }
        created = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd).json()
        conditions = {c["type"]: c["status"] for c in created["status"]["conditions"]}
        assert conditions == {"NamesAccepted": "True", "Established": "True"}
        resources = api.get(f"/apis/{group}/v1alpha1").json()["resources"]
        assert {"widgets", "widgets/status", "widgets/scale"} <= {r["name"] for r in resources}
        assert f"apis/{group}/v1alpha1" in api.get("/openapi/v3").json()["paths"]
        aggregated = api.get(
            "/apis",
            headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
        )
        assert group in {item["metadata"]["name"] for item in aggregated.json()["items"]}
        path = f"/apis/{group}/v1alpha1/namespaces/default/widgets"
        widget = {
            "apiVersion": f"{group}/v1alpha1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"model": "m"},
        }
        assert api.post(path, json=widget).status_code == 201
        api.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}")
        assert eventually(lambda: api.get(f"/apis/{group}/v1alpha1").status_code == 404)
        assert api.get(path).status_code == 404

    def test_an_object_older_than_its_crd_schema_is_pruned_and_defaulted_on_its_next_write(
        self, api: httpx.Client
    ) -> None:
        """Unchanged fields skip prune and defaults only when the object was written under the schema in
        force; after a CRD update, the next write of any field brings the whole object up to it."""
        group = f"{uuid.uuid4().hex[:6]}.example.com"
        crd = json.loads(json.dumps(CRD))
        crd["metadata"]["name"] = f"widgets.{group}"
        crd["spec"]["group"] = group
        crd["spec"]["names"] = {"plural": "widgets", "singular": "widget", "kind": "Widget"}
        spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec_schema["properties"]["colour"] = {"type": "string"}
        crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        assert api.post(crds, json=crd).status_code == 201
        path = f"/apis/{group}/v1alpha1/namespaces/default/widgets"
        widget = {
            "apiVersion": f"{group}/v1alpha1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"model": "m", "colour": "blue"},
        }
        assert api.post(path, json=widget).status_code == 201
        current = api.get(f"{crds}/widgets.{group}").json()
        schema = current["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        del schema["properties"]["colour"]
        schema["properties"]["shade"] = {"type": "string", "default": "dark"}
        assert api.put(f"{crds}/widgets.{group}", json=current).status_code == 200

        def relabelled() -> dict[str, Any] | None:
            patched = api.patch(f"{path}/w1", json={"metadata": {"labels": {"n": "1"}}}, headers=MERGE)
            body: dict[str, Any] = patched.json()
            return body if "shade" in body["spec"] else None  # the new schema is served

        assert eventually(lambda: relabelled() is not None)
        spec = api.get(f"{path}/w1").json()["spec"]
        assert "colour" not in spec
        assert spec["shade"] == "dark"
        api.delete(f"{crds}/widgets.{group}")

    def test_crd_name_must_match_plural_and_group(self, api: httpx.Client) -> None:
        crd = json.loads(json.dumps(CRD))
        crd["metadata"]["name"] = "wrong.example.com"
        response = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
        assert response.status_code == 422
        assert "metadata.name" in {c["field"] for c in response.json()["details"]["causes"]}

    def test_non_structural_schema_is_rejected(self, api: httpx.Client) -> None:
        crd = json.loads(json.dumps(CRD))
        group = f"{uuid.uuid4().hex[:6]}.example.com"
        crd["metadata"]["name"] = f"modelservers.{group}"
        crd["spec"]["group"] = group
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
            "free"
        ] = {}
        response = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
        assert response.status_code == 422


class TestDiscoveryAndHealth:
    def test_version_health_and_legacy_discovery(self, api: httpx.Client) -> None:
        assert api.get("/version").json()["gitVersion"].startswith("v1.")
        assert api.get("/healthz").text == "ok"
        assert api.get("/readyz").text == "ok"
        assert api.get("/api").json()["versions"] == ["v1"]
        core = {r["name"]: r for r in api.get("/api/v1").json()["resources"]}
        assert core["pods"]["shortNames"] == ["po"]
        assert "deployments/scale" in {r["name"] for r in api.get("/apis/apps/v1").json()["resources"]}
        groups = {g["name"] for g in api.get("/apis").json()["groups"]}
        assert {"apps", "coordination.k8s.io", "apiextensions.k8s.io", "llm.example.com"} <= groups

    def test_openapi_patch_operations_carry_field_validation(self, api: httpx.Client) -> None:
        document = api.get("/openapi/v3/apis/llm.example.com/v1alpha1").json()
        item = document["paths"]["/apis/llm.example.com/v1alpha1/namespaces/{namespace}/modelservers/{name}"]
        patch = item["patch"]
        assert patch["x-kubernetes-group-version-kind"] == {
            "group": "llm.example.com",
            "version": "v1alpha1",
            "kind": "ModelServer",
        }
        assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
        assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
        assert api.get("/openapi/v2").status_code == 404


def test_tls_server_requires_the_token(tls_server: ServerThread) -> None:
    kubeconfig = yaml.safe_load(tls_server.kubeconfig.read_text())
    token = kubeconfig["users"][0]["user"]["token"]
    ca = tls_server.settings.data_dir / "pki" / "ca.crt"  # type: ignore[operator]
    with httpx.Client(base_url=tls_server.url("hub"), verify=ssl.create_default_context(cafile=ca)) as client:
        anonymous = client.get("/api/v1/namespaces")
        assert anonymous.status_code == 401
        assert anonymous.json()["reason"] == "Unauthorized"
        wrong = client.get("/api/v1/namespaces", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = client.get("/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert client.get("/healthz").status_code == 200


def owner_reference(owner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An ownerReference pointing at a ModelServer returned by the server."""
    reference = {
        "apiVersion": "llm.example.com/v1alpha1",
        "kind": "ModelServer",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    return {**reference, **extra}


def eventually(check: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


def test_an_idle_keep_alive_connection_outlives_client_pools_idle_time(plain_server: ServerThread) -> None:
    """A connection idle for 6 s (past uvicorn's 5 s default, which clients with longer pools raced into
    "Server disconnected") still serves the next request, as kube-apiserver's 90 s idle timeout does."""
    url = httpx.URL(plain_server.url("hub"))
    request = f"GET {url.path.rstrip('/')}/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", url.port or 80), timeout=10) as conn:
        conn.sendall(request)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(6)
        conn.sendall(request)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")  # b"" had the server closed it
