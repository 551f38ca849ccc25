"""Bearer tokens: the server's admin token, and one per cluster that also says which cluster it is for.

There is no RBAC: every token is the admin of every cluster. The kubeconfig gives each context its own
cluster's token so that a client that drops the path of the server URL still reaches the cluster it
meant. ``kubectl proxy`` does that: it forwards ``/api/...`` to the server's root, not to
``/clusters/<name>/api/...``, unless given ``--append-server-path``. A request without a cluster in its
path goes to the cluster its token names.

A cluster's token is an HMAC of the admin token and the cluster's name, so it survives restarts (the
admin token is kept in the data directory) without a file of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable


def cluster_token(admin_token: str, cluster: str) -> str:
    digest = hmac.new(admin_token.encode(), f"cluster:{cluster}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Credentials:
    """Checks a request's bearer token against the admin token and every cluster's token."""

    def __init__(self, admin_token: str | None, clusters: Iterable[str]) -> None:
        self.admin_token = admin_token
        self._by_cluster = (
            {name: cluster_token(admin_token, name) for name in clusters} if admin_token else {}
        )

    def check(self, authorization: str) -> tuple[bool, str | None]:
        """Whether the ``Authorization`` header is authorized, and the cluster its token names (if one)."""
        if self.admin_token is None:
            return True, None
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False, None
        presented = credential.strip()
        if secrets.compare_digest(presented, self.admin_token):
            return True, None
        # Every comparison runs, so the time taken does not tell which cluster's token was close.
        matched = [
            name for name, token in self._by_cluster.items() if secrets.compare_digest(presented, token)
        ]
        return (True, matched[0]) if matched else (False, None)
