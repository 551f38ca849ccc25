"""``kubectl proxy`` without ``--append-server-path``: it forwards to the server's root, dropping the
``/clusters/<name>`` of the kubeconfig's server URL, and each context's token still picks its cluster."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from infleet.apiserver.cluster_tokens import Credentials, cluster_token
from tests.apiserver_harness import Kubectl, ServerThread, kubectl_binaries

pytestmark = pytest.mark.kubectl


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("proxy"), clusters=("hub", "us-east"), tls=True) as running:
        yield running


def _kubectl(server: ServerThread, tmp_path: Path, context: str) -> Kubectl:
    return Kubectl(kubectl_binaries()[0], server.kubeconfig, tmp_path / "cache", context=context)


class Proxy:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        assert process.stdout is not None
        line = process.stdout.readline()  # "Starting to serve on 127.0.0.1:PORT"
        assert "Starting to serve on" in line, line + (process.stderr.read() if process.stderr else "")
        self.url = "http://" + line.strip().rsplit(" ", 1)[1]


@pytest.fixture
def proxies(server: ServerThread, tmp_path: Path) -> Iterator[dict[str, Proxy]]:
    started = {
        name: Proxy(_kubectl(server, tmp_path / name, f"infleet-{name}").start("proxy", "--port=0"))
        for name in ("hub", "us-east")
    }
    try:
        yield started
    finally:
        for proxy in started.values():
            proxy.process.terminate()
            proxy.process.wait(10)


def test_each_context_proxies_to_its_own_cluster(
    server: ServerThread, tmp_path: Path, proxies: dict[str, Proxy]
) -> None:
    _kubectl(server, tmp_path, "infleet-us-east").run("create", "configmap", "only-in-us-east")
    for name, proxy in proxies.items():
        response = httpx.get(f"{proxy.url}/api/v1/namespaces/default/configmaps/only-in-us-east", timeout=10)
        assert response.status_code == (200 if name == "us-east" else 404), (name, response.text)


def test_kubectl_through_the_proxy_reads_and_writes(tmp_path: Path, proxies: dict[str, Proxy]) -> None:
    def through_proxy(*args: str) -> str:
        command = [
            kubectl_binaries()[0],
            f"--server={proxies['us-east'].url}",
            f"--cache-dir={tmp_path}",
            *args,
        ]
        env = {**os.environ, "KUBECONFIG": str(tmp_path / "none")}  # only the proxy's address
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "created" in through_proxy("create", "namespace", "via-proxy")
    names = [
        item["metadata"]["name"] for item in json.loads(through_proxy("get", "ns", "-o", "json"))["items"]
    ]
    assert "via-proxy" in names
    assert "pods" in through_proxy("api-resources")


def test_the_path_still_wins_over_the_token(server: ServerThread) -> None:
    config = yaml.safe_load(server.kubeconfig.read_text())
    tokens = {user["name"]: user["user"]["token"] for user in config["users"]}
    headers = {"Authorization": f"Bearer {tokens['infleet-hub']}"}
    # Every token is the admin of every cluster: the hub's token reads us-east by its path.
    response = httpx.get(
        f"{server.url('us-east')}/api/v1/namespaces", headers=headers, verify=False, timeout=10
    )
    assert response.status_code == 200


def test_a_root_path_with_the_admin_token_names_how_to_pick_a_cluster(server: ServerThread) -> None:
    admin = server.server.token
    assert admin is not None
    base = server.server.base_url
    response = httpx.get(
        f"{base}/api/v1/namespaces", headers={"Authorization": f"Bearer {admin}"}, verify=False
    )
    assert response.status_code == 404
    assert "/clusters/<name>" in response.json()["message"]
    assert "kubectl proxy --context" in response.json()["message"]


def test_credentials_accept_only_known_tokens() -> None:
    credentials = Credentials("admin-secret", ["hub", "us-east"])
    assert credentials.check("Bearer admin-secret") == (True, None)
    assert credentials.check(f"Bearer {cluster_token('admin-secret', 'us-east')}") == (True, "us-east")
    assert credentials.check(f"Bearer {cluster_token('another-secret', 'us-east')}") == (False, None)
    assert credentials.check("Basic admin-secret") == (False, None)
    assert credentials.check("") == (False, None)
    assert Credentials(None, ["hub"]).check("") == (True, None)
