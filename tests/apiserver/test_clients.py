"""Standard Python clients against the embedded server: lightkube (the controllers' client) and kopf."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kopf
import pytest
import yaml
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from infleet.apiserver.watch import WatchHub
from tests.apiserver_harness import ServerThread

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "crd-modelserver.yaml").read_text())
ModelServer = create_namespaced_resource("llm.example.com", "v1alpha1", "ModelServer", "modelservers")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(tmp_path, tls=True) as running:
        token = yaml.safe_load(running.kubeconfig.read_text())["users"][0]["user"]["token"]
        with httpx.Client(base_url=running.url("hub"), verify=False) as setup:
            created = setup.post(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                json=CRD,
                headers={"Authorization": f"Bearer {token}"},
            )
        assert created.status_code == 201
        yield running


def lightkube_client(server: ServerThread) -> AsyncClient:
    config = KubeConfig.from_file(server.kubeconfig).get(context_name="infleet-hub")
    return AsyncClient(config=config)


async def test_lightkube_crud_and_status_through_the_kubeconfig(server: ServerThread) -> None:
    client = lightkube_client(server)
    name = f"cm-{uuid.uuid4().hex[:6]}"
    created = await client.create(
        ConfigMap(metadata=ObjectMeta(name=name), data={"a": "1"}), namespace="default"
    )
    assert created.metadata is not None
    assert created.metadata.uid
    await client.patch(ConfigMap, name, {"data": {"b": "2"}}, namespace="default")
    fetched = await client.get(ConfigMap, name, namespace="default")
    assert fetched.data == {"a": "1", "b": "2"}
    server_model = ModelServer(metadata=ObjectMeta(name="ms-a"), spec={"model": "qwen2-7b"})
    await client.create(server_model, namespace="default")
    with pytest.raises(
        ApiError
    ) as strategic:  # custom resources take no strategic merge, as on real clusters
        await client.patch(ModelServer, "ms-a", {"spec": {"replicas": 2}}, namespace="default")
    assert strategic.value.status.code == 415
    await client.patch(
        ModelServer.Status,
        "ms-a",
        {"status": {"replicas": 1}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )
    stored = await client.get(ModelServer, "ms-a", namespace="default")
    assert stored.status == {"replicas": 1}
    assert stored.spec == {"model": "qwen2-7b", "replicas": 1, "engine": "vllm"}
    with pytest.raises(ApiError) as missing:
        await client.get(ConfigMap, "absent", namespace="default")
    assert missing.value.status.code == 404
    await client.close()


async def test_lightkube_watch_resumes_from_a_resource_version(server: ServerThread) -> None:
    client = lightkube_client(server)
    listed = client.list(ConfigMap, namespace="default")
    _ = [item async for item in listed]
    resume_from = listed.resourceVersion
    await client.create(ConfigMap(metadata=ObjectMeta(name="after-list")), namespace="default")
    seen: list[tuple[str, str]] = []
    async for event, obj in client.watch(ConfigMap, namespace="default", resource_version=resume_from):
        assert obj.metadata is not None
        seen.append((event, str(obj.metadata.name)))
        break
    assert seen == [("ADDED", "after-list")]
    await client.close()


async def test_lightkube_relists_after_410(server: ServerThread) -> None:
    server.server.clusters["hub"].hub = WatchHub(window=3)
    client = lightkube_client(server)
    stale = (await client.create(ConfigMap(metadata=ObjectMeta(name="old")), namespace="default")).metadata
    assert stale is not None
    for index in range(6):
        await client.create(ConfigMap(metadata=ObjectMeta(name=f"new-{index}")), namespace="default")
    with pytest.raises(ApiError) as gone:
        async for _ in client.watch(ConfigMap, namespace="default", resource_version=stale.resourceVersion):
            pass
    assert gone.value.status.code == 410
    relisted = client.list(ConfigMap, namespace="default")
    names = {item.metadata.name async for item in relisted if item.metadata is not None}
    assert {"old", "new-5"} <= names
    await client.create(ConfigMap(metadata=ObjectMeta(name="latest")), namespace="default")
    async for event, obj in client.watch(
        ConfigMap, namespace="default", resource_version=relisted.resourceVersion
    ):
        assert (event, obj.metadata.name if obj.metadata else None) == ("ADDED", "latest")
        break
    await client.close()


class KopfOperator:
    """A kopf operator with create/update/delete handlers, run on its own loop in a thread."""

    def __init__(self, server: ServerThread) -> None:
        self.calls: list[tuple[str, str]] = []
        self.registry = kopf.OperatorRegistry()
        self.stop_flag: asyncio.Event | None = None
        self.ready = threading.Event()
        config = yaml.safe_load(server.kubeconfig.read_text())
        token = config["users"][0]["user"]["token"]
        url = server.url("hub")
        ca_path = str(server.settings.data_dir / "pki" / "ca.crt")  # type: ignore[operator]

        @kopf.on.login(registry=self.registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, token=token, ca_path=ca_path, default_namespace="default")

        @kopf.on.startup(registry=self.registry)
        def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.posting.enabled = True
            settings.watching.server_timeout = 10
            settings.persistence.finalizer = "infleet.test/kopf-finalizer"

        @kopf.on.create("llm.example.com", "v1alpha1", "modelservers", registry=self.registry, id="created")
        def created(name: str, spec: dict[str, Any], body: kopf.Body, **_: Any) -> dict[str, Any]:
            self.calls.append(("create", name))
            kopf.info(body, reason="Provisioned", message=f"serving {spec['model']}")
            return {"model": spec["model"]}

        @kopf.on.update("llm.example.com", "v1alpha1", "modelservers", registry=self.registry)
        def updated(name: str, **_: Any) -> None:
            self.calls.append(("update", name))

        @kopf.on.delete("llm.example.com", "v1alpha1", "modelservers", registry=self.registry)
        def deleted(name: str, **_: Any) -> None:
            self.calls.append(("delete", name))

        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.stop_flag = asyncio.Event()
            self.ready.set()
            await kopf.operator(
                registry=self.registry, standalone=True, namespaces=["default"], stop_flag=self.stop_flag
            )

        asyncio.run(main())

    def __enter__(self) -> KopfOperator:
        self._thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop_flag = self.stop_flag
        assert loop_flag is not None
        # The flag belongs to the operator's loop; setting it from here is safe for asyncio.Event.set.
        loop_flag.set()
        self._thread.join(20)


def wait_for(check: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


@pytest.mark.timeout(90)
def test_kopf_operator_create_update_delete_handlers(server: ServerThread) -> None:
    config = yaml.safe_load(server.kubeconfig.read_text())
    headers = {"Authorization": f"Bearer {config['users'][0]['user']['token']}"}
    path = "/apis/llm.example.com/v1alpha1/namespaces/default/modelservers"
    # kopf keeps handler results and progress in status: the schema must preserve them, as on real clusters.
    schema_patch = [
        {
            "op": "add",
            "path": "/spec/versions/0/schema/openAPIV3Schema/properties/status"
            "/x-kubernetes-preserve-unknown-fields",
            "value": True,
        }
    ]
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/modelservers.llm.example.com"
    preserved = httpx.patch(
        server.url("hub") + crd_path,
        json=schema_patch,
        headers={**headers, "Content-Type": "application/json-patch+json"},
        verify=False,
    )
    assert preserved.status_code == 200, preserved.text
    with (
        KopfOperator(server) as operator,
        httpx.Client(base_url=server.url("hub"), verify=False, headers=headers) as api,
    ):
        body = {
            "apiVersion": "llm.example.com/v1alpha1",
            "kind": "ModelServer",
            "metadata": {"name": "kopf-ms"},
            "spec": {"model": "qwen2-7b"},
        }
        assert api.post(path, json=body).status_code == 201
        wait_for(lambda: ("create", "kopf-ms") in operator.calls)
        wait_for(
            lambda: (
                api.get(f"{path}/kopf-ms").json().get("status", {}).get("created") == {"model": "qwen2-7b"}
            )
        )
        stored = api.get(f"{path}/kopf-ms").json()
        assert "infleet.test/kopf-finalizer" in stored["metadata"]["finalizers"]
        api.patch(
            f"{path}/kopf-ms",
            json={"spec": {"replicas": 3}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        wait_for(lambda: ("update", "kopf-ms") in operator.calls)
        api.delete(f"{path}/kopf-ms")
        wait_for(lambda: ("delete", "kopf-ms") in operator.calls)
        wait_for(lambda: api.get(f"{path}/kopf-ms").status_code == 404)
        wait_for(
            lambda: any(
                e["involvedObject"]["name"] == "kopf-ms" and e["reason"] == "Provisioned"
                for e in api.get("/api/v1/namespaces/default/events").json()["items"]
            ),
        )
