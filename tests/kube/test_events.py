"""Events about objects: involvedObject with uid, repeats counted on one Event."""

from __future__ import annotations

from infleet.api.kubernetes import EVENT
from infleet.kube.clock import ManualClock
from infleet.kube.events import WARNING, EventRecorder
from tests.kube.conftest import RunningServer, install_widget_crd, widget


async def test_records_and_aggregates(apiserver: RunningServer) -> None:
    client = apiserver.client()
    kind = await install_widget_crd(client)
    target = await client.create(kind, widget("w"))
    clock = ManualClock()
    recorder = EventRecorder(client, "infleet-models", clock)
    first = await recorder.record(target, WARNING, "NoFit", "no node has 8 free GPUs")
    assert first is not None
    await clock.advance(30)
    await recorder.record(target, WARNING, "NoFit", "no node has 8 free GPUs")
    await recorder.record(target, "Normal", "Scheduled", "placed")
    events = (await client.list(EVENT, "default")).items
    by_reason = {event["reason"]: event for event in events}
    assert set(by_reason) == {"NoFit", "Scheduled"}
    no_fit = by_reason["NoFit"]
    assert no_fit["count"] == 2
    assert no_fit["firstTimestamp"] != no_fit["lastTimestamp"]
    assert no_fit["involvedObject"]["uid"] == target["metadata"]["uid"]
    assert no_fit["involvedObject"]["kind"] == "Widget"
    assert no_fit["source"] == {"component": "infleet-models"}
