"""The processes of `provisioning.py`'s end-to-end run, each on its own so its CPU reads alone: the
compute controllers (provisioner, NodeClaim lifecycle, pool status; no disruption) over the simulated
cloud provider, and the simulated cluster (scheduler and kubelets) that adopts the Nodes the provider
registers and binds pods to them. Both talk to an `infleet apiserver` the driver started.

Usage (by the driver): ``provisioning_cluster.py compute|sim --kubeconfig K --time-scale S``.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from apiserver_harness import ROOT, stop_child
from infleet.cli import event_loop
from proc_stats import cpu_seconds, rss_mib

CONTEXT = "infleet-hub"


class RoleProcess:
    """One role in a child process; CPU and resident memory read from /proc."""

    def __init__(self, role: str, workdir: Path, kubeconfig: Path, time_scale: float) -> None:
        self.role = role
        self.log = (workdir / f"{role}.log").open("wb")
        command = [sys.executable, __file__, role, "--kubeconfig", str(kubeconfig)]
        command += ["--time-scale", str(time_scale), "--log-dir", str(workdir / "pod-logs")]
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'benchmarks'}"}
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.peak_mib = 0.0

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def sample_memory(self) -> None:
        self.peak_mib = max(self.peak_mib, rss_mib(self.process.pid))

    def stop(self) -> None:
        stop_child(self.process, self.log)


async def _compute(args: argparse.Namespace) -> None:
    from infleet.api.catalog import load_catalog
    from infleet.compute.cloudprovider.simulated import SimulatedCloudProvider
    from infleet.compute.manager import add_compute_controllers
    from infleet.kube.cluster_client import ClientFactory
    from infleet.kube.manager import Manager, ManagerSettings

    factory = ClientFactory(args.kubeconfig)
    client = factory.client(CONTEXT, "hub")
    manager = Manager(ManagerSettings(name="infleet-compute"))
    provider = SimulatedCloudProvider(client, load_catalog(), time_scale=args.time_scale)
    add_compute_controllers(manager, client, provider, rng=random.Random(7))
    try:
        await manager.run()
    finally:
        await factory.close()


async def _sim(args: argparse.Namespace) -> None:
    from infleet.kube.cluster_client import ClientFactory
    from infleet.kube.manager import Manager, ManagerSettings
    from infleet.sim import mini_engine, simulated_cluster
    from infleet.sim.settings import SimSettings

    factory = ClientFactory(args.kubeconfig)
    client = factory.client(CONTEXT, "hub")
    manager = Manager(ManagerSettings(name="infleet-sim"))
    settings = SimSettings(time_scale=args.time_scale, log_dir=args.log_dir)
    engines = mini_engine.MiniEngineLauncher()
    simulated = simulated_cluster.add_simulated_cluster(manager, client, [], settings, engines)
    await simulated.heartbeat.register()
    try:
        await manager.run()
    finally:
        await engines.close()
        await factory.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["compute", "sim"])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--time-scale", type=float, required=True)
    parser.add_argument("--log-dir", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    profile = os.environ.get("PROVISIONING_PROFILE_DIR")
    if profile:  # the role's profile, written when it stops
        import cProfile

        with cProfile.Profile() as profiler:
            event_loop.run(_compute(args) if args.role == "compute" else _sim(args))
        profiler.dump_stats(str(Path(profile) / f"{args.role}.prof"))
    else:
        event_loop.run(_compute(args) if args.role == "compute" else _sim(args))
    print(f"{args.role} ran {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
