"""The JSON client against the embedded server: CRUD, lists with resourceVersion, errors, many clusters."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightkube import ConfigError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import ConfigMap

from infleet.api.resource_kind import ResourceKind
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer
from infleet.kube.api_error import KubeAPIError
from infleet.kube.cluster_client import ClientFactory, ClusterClient
from infleet.kube.resource_kind import kind_of
from tests.kube.conftest import RunningServer

CONFIGMAP = kind_of(ConfigMap)


def config_map(name: str, **data: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": data,
    }


def test_resource_kind_of_lightkube_classes() -> None:
    assert ResourceKind("", "v1", "ConfigMap", "configmaps", True) == CONFIGMAP
    assert CONFIGMAP.path("default", "a") == "/api/v1/namespaces/default/configmaps/a"
    custom = kind_of(
        create_namespaced_resource("aitoolchain.io", "v1", "ModelDeployment", "modeldeployments")
    )
    assert (
        custom.path("ns", "m", "status") == "/apis/aitoolchain.io/v1/namespaces/ns/modeldeployments/m/status"
    )
    assert custom.api_version == "aitoolchain.io/v1"


async def test_crud_and_errors(apiserver: RunningServer) -> None:
    client = apiserver.client()
    created = await client.create(CONFIGMAP, config_map("a", k="1"))
    assert created["metadata"]["uid"]
    patched = await client.patch(CONFIGMAP, "a", {"data": {"k": "2"}}, "default")
    assert patched["data"] == {"k": "2"}
    listed = await client.list(CONFIGMAP, "default")
    assert [o["metadata"]["name"] for o in listed.items] == ["a"]
    assert listed.items[0]["kind"] == "ConfigMap"
    assert int(listed.resource_version) >= int(patched["metadata"]["resourceVersion"])
    stale = dict(created)
    with pytest.raises(KubeAPIError) as conflict:
        await client.replace(CONFIGMAP, stale)
    assert conflict.value.conflict
    await client.delete(CONFIGMAP, "a", "default")
    with pytest.raises(KubeAPIError) as missing:
        await client.get(CONFIGMAP, "a", "default")
    assert missing.value.not_found


async def test_clusters_are_separate(apiserver: RunningServer) -> None:
    hub, member = apiserver.client("hub"), apiserver.client("member1")
    assert hub is apiserver.factory.client("infleet-hub", "hub")
    await hub.create(CONFIGMAP, config_map("only-hub"))
    assert (await member.list(CONFIGMAP, "default")).items == []
    # The typed lightkube client of the same context works too.
    typed = await hub.typed.get(ConfigMap, "only-hub", namespace="default")
    assert typed.metadata is not None
    assert typed.metadata.name == "only-hub"


async def test_tls_and_token_kubeconfig(tmp_path: Path) -> None:
    """The kubeconfig ``infleet up`` writes (https, CA data, bearer token) works as written."""
    kubeconfig = tmp_path / "kubeconfig"
    server = EmbeddedAPIServer(
        APIServerSettings(port=0, data_dir=tmp_path / "data", clusters=("hub",), kubeconfig_out=kubeconfig)
    )
    await server.start()
    factory = ClientFactory(kubeconfig)
    try:
        assert factory.contexts == ["infleet-hub"]
        client = factory.client("infleet-hub")
        assert client.name == "infleet-hub"
        await client.create(CONFIGMAP, config_map("secure"))
        listed = [o["metadata"]["name"] for o in (await client.list(CONFIGMAP, "default")).items]
        assert listed == ["kube-root-ca.crt", "secure"]  # every namespace has the CA bundle
    finally:
        await factory.close()
        await server.stop()


def test_unknown_context_is_named(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(ConfigError, match="nope"):
        ClusterClient.from_kubeconfig(kubeconfig, "nope")
