"""Finalizers against the embedded server: guarded add/remove, stale reads refused, deletion completes."""

from __future__ import annotations

import pytest

from infleet.kube.api_error import KubeAPIError
from infleet.kube.finalizers import ensure_finalizer, has_finalizer, is_being_deleted, remove_finalizer
from tests.kube.conftest import RunningServer, install_widget_crd, widget

FINALIZER = "aitoolchain.io/cleanup"


async def test_finalizer_lifecycle(apiserver: RunningServer) -> None:
    client = apiserver.client()
    kind = await install_widget_crd(client)
    created = await client.create(kind, widget("w"))
    with_finalizer = await ensure_finalizer(client, kind, created, FINALIZER)
    assert has_finalizer(with_finalizer, FINALIZER)
    assert await ensure_finalizer(client, kind, with_finalizer, FINALIZER) is with_finalizer  # no write
    second = await ensure_finalizer(client, kind, with_finalizer, "other/f")
    assert second["metadata"]["finalizers"] == [FINALIZER, "other/f"]

    await client.delete(kind, "w", "default")
    deleting = await client.get(kind, "w", "default")
    assert is_being_deleted(deleting)
    after = await remove_finalizer(client, kind, deleting, FINALIZER)
    assert after["metadata"]["finalizers"] == ["other/f"]
    await remove_finalizer(client, kind, after, "other/f")
    with pytest.raises(KubeAPIError) as gone:
        await client.get(kind, "w", "default")
    assert gone.value.not_found, "removing the last finalizer completes the deletion"


async def test_stale_read_is_refused(apiserver: RunningServer) -> None:
    client = apiserver.client()
    kind = await install_widget_crd(client)
    stale = await client.create(kind, widget("w"))
    await client.patch(kind, "w", {"spec": {"size": 2}}, "default")
    with pytest.raises(KubeAPIError) as refused:
        await ensure_finalizer(client, kind, stale, FINALIZER)
    assert refused.value.code in (409, 422)
    assert not has_finalizer(await client.get(kind, "w", "default"), FINALIZER)
