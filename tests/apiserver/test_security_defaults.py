"""Secure by default: owner-only state, no plain http on the network without saying so, kubelets that
demand the API server's credential."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import httpx
import pytest

from infleet.api.kubernetes import SECRET
from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer, is_loopback
from infleet.cli.main import main
from infleet.kube.cluster_client import ClusterClient
from infleet.sim.pod_logs import KubeletLogServer, PodLogs

SECRET_FILES = (
    "state/token",
    "state/pki/apiserver.key",
    "home/kubeconfig",
    "state/clusters/hub.db",
    "state/clusters/hub.db-wal",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def run_once(settings: APIServerSettings) -> dict[str, int]:
    """Start, write a Secret, and the mode of every file of the state while it runs."""
    server = EmbeddedAPIServer(settings)
    await server.start()
    try:
        assert settings.kubeconfig_out is not None
        client = ClusterClient.from_kubeconfig(settings.kubeconfig_out, "infleet-hub", "hub")
        try:
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "stringData": {"k": "v"},
            }
            await client.create(SECRET, secret, "default")
        finally:
            await client.close()
        root = settings.kubeconfig_out.parent.parent
        return {str(path.relative_to(root)): mode(path) for path in root.rglob("*")}
    finally:
        await server.stop()


async def test_state_that_holds_secrets_is_owner_only(tmp_path: Path) -> None:
    settings = APIServerSettings(
        port=0, data_dir=tmp_path / "state", kubeconfig_out=tmp_path / "home" / "kubeconfig"
    )
    found = await run_once(settings)
    for name in SECRET_FILES:
        assert found.get(name) == 0o600, f"{name}: {found.get(name)!r} in {found}"
    for name in ("state", "state/clusters", "state/pki", "home"):
        assert found[name] == 0o700, f"{name} is {oct(found[name])}"


async def test_a_state_directory_written_world_readable_before_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "state" / "clusters" / "hub.db"
    database.parent.mkdir(parents=True, mode=0o755)
    database.touch(mode=0o644)
    database.chmod(0o644)
    await run_once(
        APIServerSettings(port=0, data_dir=tmp_path / "state", kubeconfig_out=tmp_path / "home" / "kc")
    )
    assert mode(database) == 0o600
    assert mode(database.parent) == 0o700


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "my-host.example"])
def test_plain_http_on_a_network_address_is_refused_and_names_the_way_out(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="--insecure-allow-remote"):
        APIServerSettings(host=host, tls=False).validate()
    assert main(["apiserver", "--no-tls", "--host", host, "--port", "0"]) == 2
    assert "Secrets included" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.9.9.9"])
def test_loopback_and_tls_need_no_flag(host: str) -> None:
    assert is_loopback(host)
    APIServerSettings(host=host, tls=False).validate()
    APIServerSettings(host="0.0.0.0", tls=True).validate()


async def test_told_explicitly_it_serves_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = APIServerSettings(host="0.0.0.0", port=0, tls=False, allow_insecure_remote=True)
    server = EmbeddedAPIServer(settings)
    with caplog.at_level(logging.WARNING):
        await server.start()
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{server.port}/clusters/hub/api/v1/namespaces")
        assert answer.status_code == 200
    finally:
        await server.stop()
    assert any("without a token" in record.getMessage() for record in caplog.records)


async def test_the_kubelet_answers_only_the_api_servers_credential(tmp_path: Path) -> None:
    logs = PodLogs(tmp_path / "logs")
    logs.write("default", "p", "uid-1", "engine", "hello")
    server = KubeletLogServer(logs, lambda namespace, pod: "uid-1", token="api-token")
    transport = httpx.ASGITransport(app=server.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://kubelet") as http:
        anonymous = await http.get("/containerLogs/default/p/engine")
        wrong = await http.get("/containerLogs/default/p/engine", headers={"Authorization": "Bearer x"})
        right = await http.get(
            "/containerLogs/default/p/engine", headers={"Authorization": "Bearer api-token"}
        )
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert right.status_code == 200
    assert right.text.endswith("hello\n")
    log_file = logs.path("default", "p", "uid-1", "engine")
    assert (mode(log_file), mode(log_file.parent)) == (0o600, 0o700)
