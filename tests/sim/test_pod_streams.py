"""kubectl exec, attach and port-forward against a simulated cluster, through the API server's WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import kubernetes
import kubernetes.stream
import openai
import pytest

from infleet.api.kubernetes import CONFIGMAP, DEPLOYMENT, NODE, SERVICE
from tests.apiserver_harness import Kubectl
from tests.sim.conftest import RunningSim, deployment, eventually

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(180)]
MODEL = "Qwen/Qwen2.5-7B-Instruct"


async def run(kubectl: Kubectl, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(kubectl.run, *args, input=stdin, check=False, timeout=60)


async def running_pod(cluster: RunningSim, app: str) -> str:
    def ready() -> bool:
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for p in cluster.pods(f"app={app}")
            for c in p["status"].get("conditions") or []
        )

    await eventually(ready, within=60, message=f"no Ready pod for app={app}")
    return str(cluster.pods(f"app={app}")[0]["metadata"]["name"])


async def forward(
    kubectl: Kubectl, target: str, remote: int, pod_port: int | None = None, verbosity: str = "-v=0"
) -> tuple[asyncio.subprocess.Process, int]:
    """Start ``kubectl port-forward`` on a free local port; returns the process and that port.

    kubectl prints the pod's port: a Service's port is resolved to its target port by kubectl.
    """
    process = await asyncio.create_subprocess_exec(
        *kubectl.command("port-forward", verbosity, target, f":{remote}"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    match = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
    if match is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        _, err = await process.communicate()
        raise AssertionError(f"port-forward did not start: {line!r} {err.decode()!r}")
    assert int(match[2]) == (pod_port or remote)
    return process, int(match[1])


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


def engine_deployment() -> dict[str, Any]:
    container = {
        "args": ["--model", MODEL, "--served-model-name", "qwen"],
        "ports": [{"containerPort": 8000, "name": "http"}],
        "env": [
            {"name": "HF_HOME", "value": "/root/.cache/huggingface"},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {
                "name": "GREETING",
                "valueFrom": {"configMapKeyRef": {"name": "engine-settings", "key": "greeting"}},
            },
        ],
    }
    return deployment("qwen", image="vllm/vllm-openai:v0.11.0", gpus=1, container=container)


async def test_exec_runs_the_commands_a_user_tries_first(cluster: RunningSim, kubectl: Kubectl) -> None:
    settings = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "engine-settings", "namespace": "default"},
    }
    await cluster.client.create(CONFIGMAP, {**settings, "data": {"greeting": "hello"}})
    await cluster.client.create(DEPLOYMENT, engine_deployment())
    pod = await running_pod(cluster, "qwen")

    env = await run(kubectl, "exec", pod, "--", "env")
    assert env.returncode == 0, env.stderr
    variables = dict(line.split("=", 1) for line in env.stdout.splitlines())
    assert variables["HOSTNAME"] == pod
    assert variables["HF_HOME"] == "/root/.cache/huggingface"
    assert variables["GREETING"] == "hello"
    assert variables["POD_IP"] == cluster.pods("app=qwen")[0]["status"]["podIP"]

    hostname = await run(kubectl, "exec", pod, "--", "cat", "/etc/hostname")
    assert hostname.stdout == f"{pod}\n"
    listing = await run(kubectl, "exec", pod, "--", "ls", "/root/.cache/huggingface/hub")
    assert listing.stdout.split() == ["models--Qwen--Qwen2.5-7B-Instruct"]
    config_path = "/root/.cache/huggingface/hub/models--Qwen--Qwen2.5-7B-Instruct/snapshots/main/config.json"
    config = await run(kubectl, "exec", pod, "--", "cat", config_path)
    assert '"num_hidden_layers": 28' in config.stdout

    gpus = await run(
        kubectl, "exec", pod, "--", "nvidia-smi", "--query-gpu=name,memory.total", "--format=csv"
    )
    node = await cluster.client.get(NODE, cluster.pods("app=qwen")[0]["spec"]["nodeName"])
    labels = node["metadata"]["labels"]
    product, memory = labels["nvidia.com/gpu.product"].replace("-", " "), labels["nvidia.com/gpu.memory"]
    assert gpus.stdout.splitlines() == ["name, memory.total", f"{product}, {memory} MiB"]

    models = await run(kubectl, "exec", pod, "--", "curl", "-s", "http://localhost:8000/v1/models")
    assert models.returncode == 0, models.stderr
    assert '"qwen"' in models.stdout

    script = await run(kubectl, "exec", pod, "--", "sh", "-c", "echo $HOSTNAME && cat /nope || echo fallback")
    assert script.stdout == f"{pod}\nfallback\n"
    assert "cat: /nope: No such file or directory" in script.stderr

    exit_three = await run(kubectl, "exec", pod, "--", "sh", "-c", "exit 3")
    assert exit_three.returncode == 3
    assert "command terminated with exit code 3" in exit_three.stderr

    unknown = await run(kubectl, "exec", pod, "--", "python3", "-V")
    assert unknown.returncode == 127
    assert (
        "command 'python3' is not available in a simulated container; available: cat, curl" in unknown.stderr
    )

    piped = await run(kubectl, "exec", "-i", pod, "--", "cat", stdin="from stdin\n")
    assert piped.stdout == "from stdin\n"
    shell = await run(kubectl, "exec", "-i", pod, "--", "sh", stdin="echo one\nexit 4\necho never\n")
    assert (shell.stdout, shell.returncode) == ("one\n", 4)


async def test_kubectl_cp_copies_out_of_a_pod(cluster: RunningSim, kubectl: Kubectl, tmp_path: Path) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    single = await run(kubectl, "cp", f"{pod}:/etc/hostname", str(tmp_path / "hostname"))
    assert single.returncode == 0, single.stderr
    assert (tmp_path / "hostname").read_text() == f"{pod}\n"
    folder = await run(kubectl, "cp", f"{pod}:/etc", str(tmp_path / "etc"))
    assert folder.returncode == 0, folder.stderr
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == [
        "hostname",
        "hosts",
        "os-release",
        "resolv.conf",
    ]
    upload = await run(kubectl, "cp", str(tmp_path / "hostname"), f"{pod}:/tmp/hostname")
    assert upload.returncode != 0
    assert "read-only" in upload.stderr


async def test_exec_errors_read_as_kube_apiserver_s(cluster: RunningSim, kubectl: Kubectl) -> None:
    missing = await run(kubectl, "exec", "nope", "--", "env")
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    wrong = await run(kubectl, "exec", pod, "-c", "sidecar", "--", "env")
    assert f"container sidecar is not valid for pod {pod}" in wrong.stderr


async def test_port_forward_tunnels_to_the_engine_of_a_pod_and_a_service(
    cluster: RunningSim, kubectl: Kubectl
) -> None:
    await cluster.client.create(DEPLOYMENT, engine_deployment())
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "qwen", "namespace": "default"},
        "spec": {"selector": {"app": "qwen"}, "ports": [{"port": 80, "targetPort": "http"}]},
    }
    await cluster.client.create(SERVICE, service)
    pod = await running_pod(cluster, "qwen")

    process, port = await forward(kubectl, f"pod/{pod}", 8000)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(3):  # each request a new connection through the same tunnel
                response = await http.get("/v1/models", headers={"Connection": "close"})
                assert response.status_code == 200
                assert response.json()["data"][0]["id"] == "qwen"
    finally:
        await stop(process)

    process, port = await forward(kubectl, "svc/qwen", 80, pod_port=8000)
    try:
        client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", timeout=20)
        completion = await client.chat.completions.create(
            model="qwen", messages=[{"role": "user", "content": "Say hi"}], max_tokens=8
        )
        assert completion.choices[0].message.content
        assert completion.usage is not None
        assert completion.usage.completion_tokens > 0
        stream = await client.chat.completions.create(
            model="qwen", messages=[{"role": "user", "content": "Count"}], max_tokens=16, stream=True
        )
        chunks = [chunk async for chunk in stream]
        assert len(chunks) > 1
        assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason is not None
        await client.close()
    finally:
        await stop(process)


async def forward_error(kubectl: Kubectl, pod: str, remote: int) -> str:
    """Port-forward ``pod``'s port ``remote``, which nothing serves: what kubectl reported on stderr."""
    process, port = await forward(kubectl, f"pod/{pod}", remote)
    try:
        with pytest.raises(httpx.HTTPError):
            async with httpx.AsyncClient(timeout=5) as http:
                await http.get(f"http://127.0.0.1:{port}/")
        assert process.stderr is not None
        return (await asyncio.wait_for(process.stderr.read(), 15)).decode()
    finally:
        await stop(process)


async def test_port_forward_to_a_port_nothing_serves_reports_the_error(
    cluster: RunningSim, kubectl: Kubectl
) -> None:
    await cluster.client.create(DEPLOYMENT, engine_deployment())
    pod = await running_pod(cluster, "qwen")
    error = await forward_error(kubectl, pod, 9999)
    assert "error forwarding port 9999" in error
    assert "ports the simulated container listens on: 8000" in error


async def attach_and_read(cluster: RunningSim, kubectl: Kubectl, pod: str, line: str) -> str:
    """``kubectl attach`` to ``pod`` while its container writes ``line``: what attach printed."""
    process = await asyncio.create_subprocess_exec(
        *kubectl.command("attach", pod), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        uid = cluster.sim.kubelet.uid_of("default", pod)
        assert uid is not None
        assert process.stdout is not None
        seen = ""
        async with asyncio.timeout(30):
            while line not in seen:
                cluster.sim.kubelet.logs.write("default", pod, uid, "main", line)
                try:
                    seen += (await asyncio.wait_for(process.stdout.readline(), 1)).decode()
                except TimeoutError:
                    continue  # attach shows output from its start on: write again
    finally:
        await stop(process)
    return seen


async def test_attach_streams_the_container_output(cluster: RunningSim, kubectl: Kubectl) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    assert "GET /healthz 200" in await attach_and_read(cluster, kubectl, pod, "GET /healthz 200")


async def test_port_forward_on_the_channel_protocol_other_clients_use(cluster: RunningSim) -> None:
    await cluster.client.create(DEPLOYMENT, engine_deployment())
    pod = await running_pod(cluster, "qwen")
    url = f"{cluster.server.cluster_url('member')}/api/v1/namespaces/default/pods/{pod}/portforward"
    headers = {"Authorization": f"Bearer {cluster.server.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"{url}?ports=8000", protocols=["v4.channel.k8s.io"], headers=headers, ssl=False
        ) as websocket,
    ):
        assert websocket.protocol == "v4.channel.k8s.io"
        # Each channel opens with its port, little-endian: 8000 = 0x1f40.
        assert [(await websocket.receive_bytes()) for _ in range(2)] == [b"\x00\x40\x1f", b"\x01\x40\x1f"]
        request = b"GET /v1/models HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n"
        await websocket.send_bytes(b"\x00" + request)
        received = b""
        async for message in websocket:
            assert message.data[:1] == b"\x00"
            received += message.data[1:]
        assert received.startswith(b"HTTP/1.1 200")
        assert b'"qwen"' in received


async def refused_handshake(url: str, protocol: str, headers: dict[str, str]) -> httpx.Response:
    """A WebSocket handshake the server answers with an HTTP error (it closes the connection after)."""
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": protocol,
    }
    async with httpx.AsyncClient(verify=False, timeout=10) as http:
        return await http.get(url, headers={**headers, **upgrade})


async def test_streams_need_a_websocket_and_are_listed_in_discovery(cluster: RunningSim) -> None:
    await cluster.client.create(DEPLOYMENT, engine_deployment())
    pod = await running_pod(cluster, "qwen")
    base = f"{cluster.server.cluster_url('member')}/api/v1"
    headers = {"Authorization": f"Bearer {cluster.server.token}"}
    async with httpx.AsyncClient(verify=False, headers=headers, timeout=10) as http:
        resources = {r["name"]: r for r in (await http.get(base)).json()["resources"]}
        assert resources["pods/exec"]["kind"] == "PodExecOptions"
        assert resources["pods/portforward"]["verbs"] == ["create", "get"]
        plain = await http.post(
            f"{base}/namespaces/default/pods/{pod}/exec", params={"command": "env", "stdout": "1"}
        )
        assert (plain.status_code, plain.json()["message"]) == (400, "Upgrade request required")
        other = await http.post(
            f"{base}/namespaces/default/pods/{pod}/portforward",
            headers={"Upgrade": "h2c", "Connection": "Upgrade"},
        )
        assert other.status_code == 400
        assert "upgrade to websocket or SPDY/3.1" in other.json()["message"]
        no_stream = await http.post(f"{base}/namespaces/default/pods/{pod}/exec", params={"command": "env"})
        assert no_stream.json()["message"] == "you must specify at least 1 of stdin, stdout, stderr"
    # A WebSocket handshake refused before it completes: the body is the Status, as kube-apiserver's.
    base64 = await refused_handshake(
        f"{base}/namespaces/default/pods/{pod}/exec?command=env&stdout=1", "base64.channel.k8s.io", headers
    )
    assert base64.status_code == 400
    assert "use v5.channel.k8s.io, v4.channel.k8s.io" in base64.json()["message"]
    portless = await refused_handshake(
        f"{base}/namespaces/default/pods/{pod}/portforward", "v4.channel.k8s.io", headers
    )
    assert "needs the ports to forward" in portless.json()["message"]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                f"{base}/namespaces/default/pods/nope/exec?command=env&stdout=1",
                protocols=["v5.channel.k8s.io"],
                headers=headers,
                ssl=False,
            )
        assert refused.value.status == 404


def interactive_session(command: list[str], keystrokes: list[bytes]) -> tuple[int, str]:
    """Run ``command`` on a pseudo-terminal, typing ``keystrokes`` one group at a time."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    output = b""

    def drain(seconds: float) -> None:
        nonlocal output
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if select.select([controller], [], [], 0.05)[0]:
                try:
                    output += os.read(controller, 4096)
                except OSError:
                    return  # the terminal closed: kubectl exited

    drain(3)
    for keys in keystrokes:
        os.write(controller, keys)
        drain(1)
    code = process.wait(10)
    drain(0.2)
    os.close(controller)
    return code, output.decode("utf-8", "replace")


async def test_exec_with_a_terminal_gives_an_interactive_shell(cluster: RunningSim, kubectl: Kubectl) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    command = kubectl.command("exec", "-it", pod, "--", "sh")
    code, output = await asyncio.to_thread(interactive_session, command, [b"echo hx\x7fi\r", b"exit 5\r"])
    assert f"root@{pod}:/# echo hx\b \bi\r\nhi\r\nroot@{pod}:/# exit 5\r\n" in output
    assert code == 5


async def test_the_kubelet_streams_only_for_the_api_server(cluster: RunningSim) -> None:
    await cluster.client.create(DEPLOYMENT, deployment("web"))
    pod = await running_pod(cluster, "web")
    kubelet = f"http://127.0.0.1:{cluster.sim.log_server.port}"
    async with aiohttp.ClientSession() as session:
        for path in (f"/exec/default/{pod}/main?command=env&stdout=1", f"/portForward/default/{pod}"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(kubelet + path, protocols=["v5.channel.k8s.io"])
            assert refused.value.status == 401


def exec_and_forward_with_the_python_client(kubeconfig: Path, pod: str) -> tuple[str, int, str, bytes]:
    """kubernetes.stream: exec's output and exit code, then one HTTP exchange through port-forward."""
    with kubernetes.config.new_client_from_config(str(kubeconfig), context="infleet-member") as api:
        core = kubernetes.client.CoreV1Api(api)
        exec_in_pod = core.connect_get_namespaced_pod_exec
        hostname = kubernetes.stream.stream(
            exec_in_pod, pod, "default", command=["cat", "/etc/hostname"], stdout=True, stderr=True
        )
        script = ["sh", "-c", "echo out && cat /nope || exit 3"]
        session = kubernetes.stream.stream(
            exec_in_pod, pod, "default", command=script, stdout=True, stderr=True, _preload_content=False
        )
        session.run_forever(timeout=20)
        stderr, code = session.read_stderr(), session.returncode
        forward = kubernetes.stream.portforward(
            core.connect_get_namespaced_pod_portforward, pod, "default", ports="8000"
        )
        connection = forward.socket(8000)
        connection.settimeout(20)
        connection.sendall(b"GET /v1/models HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        connection.close()
        forward.close()
        return hostname, code, stderr, received


async def test_the_official_python_client_streams(cluster: RunningSim) -> None:
    await cluster.client.create(DEPLOYMENT, engine_deployment())
    pod = await running_pod(cluster, "qwen")
    kubeconfig = cluster.server.settings.kubeconfig_out
    assert kubeconfig is not None
    hostname, code, stderr, received = await asyncio.to_thread(
        exec_and_forward_with_the_python_client, kubeconfig, pod
    )
    assert hostname == f"{pod}\n"
    assert code == 3
    assert "cat: /nope: No such file or directory" in stderr
    assert received.startswith(b"HTTP/1.1 200")
    assert b'"qwen"' in received
