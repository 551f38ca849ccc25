"""``gateway.aitoolchain.io/v1alpha1``: the gateway's routes and keys, declared as API objects."""

from __future__ import annotations

GROUP = "gateway.aitoolchain.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
