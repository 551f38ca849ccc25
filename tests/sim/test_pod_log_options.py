"""`kubectl logs` options against the simulated kubelet: each container its own log, `--timestamps`,
`--since`/`--since-time`, `--limit-bytes` and `--previous` after a restart."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from infleet.api.kubernetes import DEPLOYMENT, POD
from infleet.api.labels import FAIL_ANNOTATION
from tests.sim.conftest import RunningSim, deployment, eventually

KUBECTL = Path(sys.executable).parent / "kubectl"


async def kubectl(tmp_path: Path, *args: str, ok: bool = True) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        f"--kubeconfig={tmp_path / 'kubeconfig'}",
        "--context=infleet-member",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    if ok:
        assert process.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return process.returncode or 0, out.decode(), err.decode()


def two_containers(name: str) -> dict[str, object]:
    body = deployment(name)
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1.31"})  # type: ignore[index]
    return body


async def test_each_container_has_its_own_log_and_the_options_filter_it(
    sim: RunningSim, tmp_path: Path
) -> None:
    await sim.client.create(DEPLOYMENT, two_containers("web"))
    await eventually(lambda: any(p["status"].get("phase") == "Running" for p in sim.pods("app=web")), 30)
    pod = sim.pods("app=web")[0]["metadata"]["name"]
    _, main, _ = await kubectl(tmp_path, "logs", pod, "-c", "main")
    _, sidecar, _ = await kubectl(tmp_path, "logs", pod, "-c", "sidecar")
    assert 'Pulling image "nginx:1.27"' in main
    assert "sidecar" not in main
    assert sidecar.strip() == "container sidecar started (image envoy:1.31)"
    assert not main.startswith("20"), "no timestamps unless asked"
    _, stamped, _ = await kubectl(tmp_path, "logs", pod, "-c", "sidecar", "--timestamps")
    assert stamped.startswith("20")
    assert stamped.rstrip().endswith(sidecar.strip())
    _, recent, _ = await kubectl(tmp_path, "logs", pod, "-c", "main", "--since=1h")
    assert recent == main
    _, future, _ = await kubectl(tmp_path, "logs", pod, "-c", "main", "--since-time=2099-01-01T00:00:00Z")
    assert future == ""
    _, limited, _ = await kubectl(tmp_path, "logs", pod, "-c", "main", "--limit-bytes=7")
    assert limited == main[:7]
    code, _, err = await kubectl(tmp_path, "logs", pod, "-c", "main", "--previous", ok=False)
    assert code != 0
    assert f'previous terminated container "main" in pod "{pod}" not found' in err


async def test_previous_shows_the_run_before_a_restart(sim: RunningSim, tmp_path: Path) -> None:
    await sim.client.create(DEPLOYMENT, deployment("crashy"))
    await eventually(lambda: any(p["status"].get("phase") == "Running" for p in sim.pods("app=crashy")), 30)
    pod = sim.pods("app=crashy")[0]["metadata"]["name"]
    await sim.client.patch(POD, pod, {"metadata": {"annotations": {FAIL_ANNOTATION: "true"}}}, "default")

    def statuses() -> list[dict[str, Any]]:
        found = sim.sim.kubelet.pods.store.get(pod, "default")
        return list(((found or {}).get("status") or {}).get("containerStatuses") or [])

    await eventually(lambda: any(int(s.get("restartCount", 0)) >= 1 for s in statuses()), 30)
    healed = {"metadata": {"annotations": {FAIL_ANNOTATION: None}}}
    await sim.client.patch(POD, pod, healed, "default")
    # Started again and running: the log its crashed run wrote is now the previous one.
    await eventually(lambda: any("running" in (s.get("state") or {}) for s in statuses()), 30)
    _, previous, _ = await kubectl(tmp_path, "logs", pod, "--previous")
    assert "simulated failure" in previous  # the last run that ended: started, then crashed
    assert "started" in previous
    _, current, _ = await kubectl(tmp_path, "logs", pod)
    assert 'Pulling image "nginx:1.27"' not in current, "the current run starts a new log"
