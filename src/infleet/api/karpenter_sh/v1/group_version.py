"""``karpenter.sh/v1``, Karpenter's stable API."""

from __future__ import annotations

GROUP = "karpenter.sh"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
