"""Writing a kubeconfig with one context per logical cluster (``infleet-<name>``).

kubectl, lightkube and kopf all read it; the first cluster's context is the current one.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from infleet.apiserver.cluster_tokens import cluster_token
from infleet.apiserver.private_files import write_private

#: The one user of the embedded clusters, holder of the bearer token (a cluster admin).
ADMIN_USER = "infleet-admin"


def context_name(cluster: str) -> str:
    return f"infleet-{cluster}"


def build_kubeconfig(
    base_url: str, clusters: Sequence[str], token: str | None, ca_pem: bytes | None
) -> dict[str, Any]:
    entries = []
    for name in clusters:
        server: dict[str, Any] = {"server": f"{base_url}/clusters/{name}"}
        if ca_pem is not None:
            server["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
        entries.append({"name": context_name(name), "cluster": server})
    # Each context's user holds its cluster's token, which also routes requests whose path names no
    # cluster (kubectl proxy drops the server URL's path); see cluster_tokens.
    users = [
        {"name": context_name(name), "user": {"token": cluster_token(token, name)} if token else {}}
        for name in clusters
    ]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": entries,
        "users": users,
        "contexts": [
            {
                "name": context_name(name),
                "context": {
                    "cluster": context_name(name),
                    "user": context_name(name),
                    "namespace": "default",
                },
            }
            for name in clusters
        ],
        "current-context": context_name(clusters[0]) if clusters else "",
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    """Write atomically and readable only by the owner (it holds a bearer token)."""
    write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
