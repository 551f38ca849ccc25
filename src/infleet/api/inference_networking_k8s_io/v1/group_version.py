"""``inference.networking.k8s.io/v1``: the Gateway API Inference Extension's GA group."""

from __future__ import annotations

GROUP = "inference.networking.k8s.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
