"""Settings of one simulated cluster: time scale, delays, heartbeats, where logs go.

``time_scale`` multiplies every simulated delay (image pull, model load, restart backoff): 1.0 is
real-world timing, ``infleet up`` uses 0.05 so a model loads in seconds, tests use less.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class SimSettings:
    time_scale: float = 0.05
    log_dir: Path = Path("pod-logs")
    kubelet_host: str = "127.0.0.1"
    kubelet_port: int = 0  # the kubelet's log endpoint; 0 picks a free port
    # Bearer token the kubelet demands (the API server's, which it presents when proxying logs); None
    # leaves the endpoint open, for an API server that runs without a token on loopback.
    kubelet_token: str | None = None
    heartbeat_interval: float = 10.0  # seconds between node Lease renewals (not scaled: it costs requests)
    node_lease_grace: float = 40.0  # a Lease older than this marks the node NotReady
    engine_image_pull_seconds: float = 90.0
    image_pull_seconds: float = 5.0
    engine_init_seconds: float = 15.0
    weight_download_gib_per_second: float = 0.5
    weight_load_gib_per_second_per_gpu: float = 1.92  # streaming load, inference-engines.md §6.5
    restart_backoff_seconds: float = 10.0
    restart_backoff_max_seconds: float = 300.0
    cluster_index: int = 1  # picks the pod address range 127.<index>.<node>.0/24

    def scaled(self, seconds: float) -> float:
        return max(0.0, seconds * self.time_scale)
