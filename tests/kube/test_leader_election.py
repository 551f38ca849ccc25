"""Leader election on a real Lease: one leader at a time, hand-over on release, take-over on expiry,
and a Manager whose controllers run only while it leads."""

from __future__ import annotations

import asyncio

import pytest

from infleet.api.kubernetes import LEASE
from infleet.api.resource_kind import ResourceKind
from infleet.kube.informer import InformerSettings
from infleet.kube.leader_election import LeaderElectionSettings, LeaderElector
from infleet.kube.manager import Manager, ManagerSettings
from infleet.kube.reconciler import Request, Result
from tests.kube.conftest import RunningServer, eventually

CONFIGMAP = ResourceKind("", "v1", "ConfigMap", "configmaps")


def election(identity: str) -> LeaderElectionSettings:
    return LeaderElectionSettings(
        lease_name="infleet-test", identity=identity, lease_duration=1.0, renew_deadline=0.6, retry_period=0.1
    )


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        LeaderElectionSettings("l", "a", lease_duration=1, renew_deadline=2, retry_period=0.1).validate()


async def test_release_hands_over_and_expiry_takes_over(apiserver: RunningServer) -> None:
    client = apiserver.client()
    a, b = LeaderElector(client, election("a")), LeaderElector(client, election("b"))
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.ensure_future(a.run(stop_a))
    await asyncio.wait_for(a.leading.wait(), 5)
    task_b = asyncio.ensure_future(b.run(stop_b))
    await asyncio.sleep(1.5)  # longer than the lease: a keeps renewing, so b must not take it
    assert a.leading.is_set()
    assert not b.leading.is_set()

    loop = asyncio.get_running_loop()
    released_at = loop.time()
    stop_a.set()
    await asyncio.wait_for(task_a, 5)
    await asyncio.wait_for(b.leading.wait(), 5)
    assert loop.time() - released_at < 0.8, "a released lease is taken without waiting for expiry"
    lease = await client.get(LEASE, "infleet-test", "default")
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] >= 1

    # c sees b's lease; b then dies without releasing: c takes over only once the lease expired.
    c = LeaderElector(client, election("c"))
    stop_c = asyncio.Event()
    task_c = asyncio.ensure_future(c.run(stop_c))
    await asyncio.sleep(0.3)
    task_b.cancel()
    died_at = loop.time()
    await asyncio.wait_for(c.leading.wait(), 5)
    assert loop.time() - died_at >= 0.6, "a live-looking lease is respected until it expires"
    assert (await client.get(LEASE, "infleet-test", "default"))["spec"]["holderIdentity"] == "c"
    stop_c.set()
    await asyncio.wait_for(task_c, 5)
    assert (await client.get(LEASE, "infleet-test", "default"))["spec"]["holderIdentity"] == ""


async def test_managers_hand_over_controllers(apiserver: RunningServer) -> None:
    client = apiserver.client()
    reconciled: dict[str, list[Request]] = {"m1": [], "m2": []}

    def manager(name: str) -> Manager:
        settings = ManagerSettings(name=name, leader_election=election(name), handle_signals=False)
        mgr = Manager(settings, leader_client=client)

        class Records:
            async def reconcile(self, request: Request) -> Result:
                reconciled[name].append(request)
                return Result()

        controller = mgr.controller("records", Records())
        controller.watch_for(mgr.informer(client, CONFIGMAP, InformerSettings(namespace="default")))
        return mgr

    m1, m2 = manager("m1"), manager("m2")
    run1 = asyncio.ensure_future(m1.run())
    assert m1.elector is not None
    await asyncio.wait_for(m1.elector.leading.wait(), 5)
    run2 = asyncio.ensure_future(m2.run())
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one", "namespace": "default"}}
    await client.create(CONFIGMAP, body)
    await eventually(lambda: len(reconciled["m1"]) >= 1)
    await asyncio.sleep(0.3)
    assert reconciled["m2"] == [], "the follower's controllers do not run"
    assert m2.informers[0].has_synced(), "the follower's caches are warm for a fast take-over"

    m1.stop()
    await asyncio.wait_for(run1, 10)
    await eventually(lambda: len(reconciled["m2"]) >= 1, within=5)
    assert reconciled["m2"][0] == Request("hub", "default", "one")
    m2.stop()
    await asyncio.wait_for(run2, 10)
