"""Endpoints subsets from a Service and pods."""

from __future__ import annotations

from typing import Any

from infleet.sim.endpoints_controller import endpoint_subsets


def pod(name: str, ip: str, ready: bool, engine_port: str | None = None, app: str = "web") -> dict[str, Any]:
    annotations = {"sim.infleet.io/engine-port": engine_port} if engine_port else {}
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": name,
            "labels": {"app": app},
            "annotations": annotations,
        },
        "spec": {"nodeName": "n1", "containers": [{"ports": [{"name": "http", "containerPort": 8000}]}]},
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": str(ready)}]},
    }


SERVICE = {
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
}


def test_ready_and_not_ready_addresses_with_named_target_port() -> None:
    subsets = endpoint_subsets(
        SERVICE,
        [pod("b", "127.1.1.3", False), pod("a", "127.1.1.2", True), pod("x", "1.1.1.1", True, app="other")],
    )
    assert len(subsets) == 1
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["127.1.1.2"]
    assert [a["ip"] for a in subsets[0]["notReadyAddresses"]] == ["127.1.1.3"]
    assert subsets[0]["ports"] == [{"name": "http", "port": 8000, "protocol": "TCP"}]


def test_an_engine_on_another_port_gets_its_own_subset() -> None:
    subsets = endpoint_subsets(
        SERVICE, [pod("a", "127.0.0.1", True, engine_port="41000"), pod("b", "127.1.1.3", True)]
    )
    assert sorted(s["ports"][0]["port"] for s in subsets) == [8000, 41000]


def test_pods_without_ip_or_failed_are_left_out() -> None:
    failed = pod("f", "127.1.1.4", False)
    failed["status"]["phase"] = "Failed"
    pending = pod("p", "", False)
    assert endpoint_subsets(SERVICE, [failed, pending]) == []
