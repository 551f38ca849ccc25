"""The simulated container's commands: what ``kubectl exec`` prints and the exit codes it gets."""

from __future__ import annotations

import asyncio

from infleet.sim.container_shell import ContainerShell, ShellIO
from infleet.sim.container_view import ContainerView, container_files


def view() -> ContainerView:
    pod = {"metadata": {"name": "engine-0", "namespace": "models"}}
    return ContainerView(
        namespace="models",
        pod="engine-0",
        container="vllm",
        node="member-a100-0",
        pod_ip="127.1.0.2",
        env={"PATH": "/usr/bin", "HOSTNAME": "engine-0", "MODEL": "qwen"},
        files=container_files(pod, "engine-0", "127.1.0.2", "Qwen/Qwen2.5-7B-Instruct"),
    )


async def run(*argv: str, stdin: bytes | None = None, tty: bool = False) -> tuple[int, str, str]:
    out: list[bytes] = []
    err: list[bytes] = []

    async def write_out(data: bytes) -> None:
        out.append(data)

    async def write_err(data: bytes) -> None:
        err.append(data)

    queue: asyncio.Queue[bytes | None] | None = None
    if stdin is not None:
        queue = asyncio.Queue()
        queue.put_nowait(stdin)
        queue.put_nowait(None)
    code = await ContainerShell(view()).run(list(argv), ShellIO(write_out, write_err, queue, tty))
    return code, b"".join(out).decode(), b"".join(err).decode()


async def test_files_and_environment() -> None:
    assert await run("cat", "/etc/hostname") == (0, "engine-0\n", "")
    assert await run("printenv", "MODEL") == (0, "qwen\n", "")
    assert (await run("env"))[1].splitlines()[:2] == ["PATH=/usr/bin", "HOSTNAME=engine-0"]
    code, out, _ = await run("ls", "-la", "/etc")
    assert code == 0
    assert "hostname" in out
    assert out.startswith("total")
    assert await run("ls", "/missing") == (2, "", "ls: cannot access '/missing': No such file or directory\n")
    assert await run("cat", "/etc") == (1, "", "cat: /etc: Is a directory\n")
    assert (await run("hostname", "-i"))[1] == "127.1.0.2\n"


async def test_sh_sequences_expands_and_exits() -> None:
    assert await run("sh", "-c", 'echo $MODEL; false || echo "$HOSTNAME ok"') == (
        0,
        "qwen\nengine-0 ok\n",
        "",
    )
    assert await run("/bin/bash", "-c", "true && exit 7; echo unreachable") == (7, "", "")
    assert await run("sh", "-c", "false; echo $?") == (0, "1\n", "")
    code, _, err = await run("sh", "-c", "cat /etc/hosts | grep engine")
    assert code == 2
    assert "pipes and redirections are not available" in err
    assert (await run("sh", "-c", "echo 'a | b'"))[1] == "a | b\n"


async def test_unknown_commands_say_what_is_available() -> None:
    code, out, err = await run("python3", "-c", "print(1)")
    assert (code, out) == (127, "")
    assert err.startswith("command 'python3' is not available in a simulated container; available: cat, curl")


async def test_nvidia_smi_shows_no_gpu_to_a_container_that_requests_none() -> None:
    code, _, err = await run("nvidia-smi")
    assert code == 9
    assert "requests no nvidia.com/gpu" in err


async def test_curl_reaches_only_the_pod_itself() -> None:
    assert (await run("curl", "http://example.com/"))[0] == 6
    code, _, err = await run("curl", "-sS", "localhost:8000/health")
    assert code == 7
    assert "Failed to connect to localhost port 8000" in err


async def test_an_interactive_shell_edits_lines_like_a_terminal() -> None:
    code, out, _ = await run("sh", stdin=b"echo hx\x7fi\rexit 2\r", tty=True)
    assert code == 2
    assert out == "root@engine-0:/# echo hx\b \bi\nhi\nroot@engine-0:/# exit 2\n"
