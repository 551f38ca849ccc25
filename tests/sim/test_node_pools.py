"""Node objects from pools carry what GPU nodes carry; default mixes differ by region."""

from __future__ import annotations

from infleet.sim.node_pools import NodePool, default_pools, node_manifest, regional_factor


def test_gpu_node_labels_and_capacity() -> None:
    pool = NodePool("h100", "H100", 8, 1, "p5.48xlarge", "aws", "us-east-1", "us-east-1a")
    node = node_manifest(pool, "us-east-h100-0", 10250, "127.1.1.0/24")
    labels = node["metadata"]["labels"]
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert labels["nvidia.com/gpu.count"] == "8"
    assert labels["nvidia.com/gpu.memory"] == "81920"
    assert labels["node.kubernetes.io/instance-type"] == "p5.48xlarge"
    assert labels["topology.kubernetes.io/region"] == "us-east-1"
    assert labels["topology.kubernetes.io/zone"] == "us-east-1a"
    assert labels["infleet.io/cloud"] == "aws"
    assert (
        node["status"]["capacity"]["nvidia.com/gpu"] == node["status"]["allocatable"]["nvidia.com/gpu"] == "8"
    )
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    assert float(labels["infleet.io/price-per-hour"]) > 0


def test_regions_get_different_mixes_and_prices() -> None:
    east, west = default_pools("us-east"), default_pools("eu-west")
    assert {p.gpu for p in east} != {p.gpu for p in west}
    assert {p.cloud for p in east} != {p.cloud for p in west}
    h100_east = next(p for p in east if p.gpu == "H100")
    h100_west = next(p for p in west if p.gpu == "H100")
    assert h100_west.hourly_price(regional_factor("eu-west")) > h100_east.hourly_price(
        regional_factor("us-east")
    )
    assert default_pools("mars-1")[0].region == "mars-1"
