"""Status writes with optimistic concurrency against the embedded server."""

from __future__ import annotations

from typing import Any

from infleet.kube.conditions import set_condition
from infleet.kube.status_patch import merge_patch_diff, patch_status
from tests.kube.conftest import RunningServer, install_widget_crd, widget


def test_merge_patch_diff() -> None:
    old = {"a": 1, "b": {"c": 1, "d": 2}, "gone": True, "list": [1]}
    new = {"a": 1, "b": {"c": 2, "d": 2}, "list": [1, 2], "added": "x"}
    assert merge_patch_diff(old, new) == {"gone": None, "b": {"c": 2}, "list": [1, 2], "added": "x"}
    assert merge_patch_diff(new, new) == {}


async def test_patch_status_retries_on_conflict_and_skips_no_ops(apiserver: RunningServer) -> None:
    client = apiserver.client()
    kind = await install_widget_crd(client)
    stale = await client.create(kind, widget("w", size=1))
    # Someone else writes status after we read: our first attempt is refused, then re-read and redone.
    await client.patch(kind, "w", {"status": {"phase": "Other"}}, "default", subresource="status")
    calls: list[dict[str, Any]] = []

    def mutate(status: dict[str, Any]) -> None:
        calls.append(dict(status))
        status["readyReplicas"] = 1
        set_condition(status.setdefault("conditions", []), "Ready", True, "Up", now=0)

    written = await patch_status(client, kind, stale, mutate)
    assert len(calls) == 2, "one refused attempt on the stale copy, one on the fresh read"
    assert calls[1] == {"phase": "Other"}
    assert written["status"]["phase"] == "Other", "the other writer's field survives"
    assert written["status"]["readyReplicas"] == 1
    assert written["spec"] == {"size": 1}, "the status subresource does not touch spec"

    version = written["metadata"]["resourceVersion"]
    again = await patch_status(client, kind, written, mutate)
    assert again["metadata"]["resourceVersion"] == version, "an unchanged status is not written"
