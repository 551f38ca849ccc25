"""Runs an embedded API server on its own event loop in a background thread, for tests.

kubectl and other clients run as subprocesses or on the test's loop, so the server needs a loop of
its own that keeps running while the test blocks.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from infleet.apiserver.server import APIServerSettings, EmbeddedAPIServer


class ServerThread:
    """An :class:`EmbeddedAPIServer` served from a daemon thread."""

    def __init__(
        self, data_dir: Path, clusters: Sequence[str] = ("hub",), tls: bool = False, port: int = 0
    ) -> None:
        self.settings = APIServerSettings(
            port=port,
            data_dir=data_dir,
            clusters=tuple(clusters),
            kubeconfig_out=data_dir / "kubeconfig",
            tls=tls,
            bookmark_interval=1.0,
        )
        self.server = EmbeddedAPIServer(self.settings)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    @property
    def kubeconfig(self) -> Path:
        path = self.settings.kubeconfig_out
        assert path is not None
        return path

    def url(self, cluster: str = "hub") -> str:
        return self.server.cluster_url(cluster)


def src_pythonpath() -> str:
    import infleet

    return str(Path(infleet.__file__).resolve().parent.parent)


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = src_pythonpath() + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def kubectl_binaries() -> list[str]:
    """The pinned kubectl from the virtualenv, and the machine's own when it has one."""
    found = []
    pinned = Path(sys.executable).parent / "kubectl"
    if pinned.exists():
        found.append(str(pinned))
    system = shutil.which("kubectl", path="/usr/local/bin:/usr/bin:/bin")
    if system and Path(system).resolve() != pinned.resolve():
        found.append(system)
    return found


class Kubectl:
    """Runs one kubectl binary against one kubeconfig with a private discovery cache."""

    def __init__(self, binary: str, kubeconfig: Path, cache_dir: Path, context: str = "infleet-hub") -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.context = context

    def command(self, *args: str) -> list[str]:
        return [
            self.binary,
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            f"--context={self.context}",
            *args,
        ]

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args), input=input, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
