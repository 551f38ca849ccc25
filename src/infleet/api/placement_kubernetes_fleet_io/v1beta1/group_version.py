"""``placement.kubernetes-fleet.io``: stored as v1beta1, served as v1 too (KubeFleet's two versions)."""

from __future__ import annotations

GROUP = "placement.kubernetes-fleet.io"
VERSION = "v1beta1"
SERVED_VERSIONS = ("v1beta1", "v1")
API_VERSION = f"{GROUP}/{VERSION}"
