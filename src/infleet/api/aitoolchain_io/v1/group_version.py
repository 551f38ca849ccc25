"""``aitoolchain.io/v1``: Infleet's own group for what no peer API has (today ``ModelDeployment``)."""

from __future__ import annotations

GROUP = "aitoolchain.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"
