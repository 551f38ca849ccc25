"""Fixtures: an embedded API server per module, and kubectl binaries to drive it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infleet.apiserver import storage
from tests.apiserver_harness import Kubectl, ServerThread, kubectl_binaries

# Every list and watch served in these tests re-encodes the objects it sends from cached bytes and fails
# if they differ: catches any write path that changes a stored object in place.
storage.CHECK_ENCODINGS = True


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A TLS server with a bearer token and two clusters, as users run it."""
    with ServerThread(tmp_path_factory.mktemp("apiserver"), clusters=("hub", "us-east"), tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("apiserver-plain"), clusters=("hub", "us-east")) as server:
        yield server


@pytest.fixture(
    params=kubectl_binaries(),
    ids=lambda path: "system-kubectl" if path.startswith("/usr") else "pinned-kubectl",
)
def kubectl(request: pytest.FixtureRequest, tls_server: ServerThread, tmp_path: Path) -> Kubectl:
    return Kubectl(request.param, tls_server.kubeconfig, tmp_path / "kube-cache")
